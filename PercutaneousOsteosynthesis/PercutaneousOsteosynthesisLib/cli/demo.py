"""``posteo demo``: the whole workflow on the built-in phantom.

Renders the phantom, builds the bone model, plans five screws (an iliosacral S1 screw across the left
sacroiliac joint, two parallel left femoral-neck screws, a right supra-acetabular screw through the lytic
lesion that breaks the cortex, and a left supra-acetabular screw aimed too low, into the hip joint, with the
suggested correction), segments both lesions, simulates cement in both, and writes the bundle and the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..bone.model import build_bone_model
from ..bone.outputs import write_bone_outputs
from ..fileio.volume import read_ct
from ..geometry.vectors import unit
from ..phantom.anatomy import build_anatomy
from ..phantom.ct import write_phantom
from ..plan.model import CementInjection, LesionSeed, Plan
from ..plan.runner import run_plan
from ..screws.implants import default_catalog, screw_from_implant
from ..screws.roles import FEMORAL_NECK, ILIOSACRAL, SUPRA_ACETABULAR
from .progress import progress_bar
from .tables import print_lesion_tables, print_screw_table


def demo_plan(truth: dict) -> Plan:
    """The demo plan on the phantom (LPS mm), from the phantom's known anatomy."""
    cat = default_catalog()
    anat = build_anatomy()
    lm = anat.landmarks
    paths = {p["name"].split(" (")[0]: p for p in truth["screw_paths"]}
    screws = []
    si = paths["left iliosacral S1"]
    screws.append(screw_from_implant("S1 iliosacral left", cat.get("CS-7.3-T32-065"), si["entry_lps"], si["tip_lps"], catalog=cat,
                                     role=ILIOSACRAL))
    neck = paths["left femoral neck"]
    axis = unit(np.subtract(neck["tip_lps"], neck["entry_lps"]))
    down = unit(np.cross(axis, np.cross([0.0, 0.0, -1.0], axis)))  # perpendicular to the neck, inferior
    for i, off in enumerate((5.0 * down, -5.0 * down)):
        screws.append(screw_from_implant(f"femoral neck left {i + 1}", cat.get("CS-7.3-T16-060"),
                                         np.add(neck["entry_lps"], off), np.add(neck["tip_lps"], off), catalog=cat,
                                         role=FEMORAL_NECK))
    a1, a2 = lm["supra_acetabular_axis_right_lps"]
    lesion = next(l for l in anat.lesions if l.breaks_cortex)
    towards = lesion.center - (a1 + np.dot(lesion.center - a1, unit(a2 - a1)) * unit(a2 - a1))
    shift = 5.0 * unit(towards)
    screws.append(screw_from_implant("supra-acetabular right", cat.get("CS-7.3-T32-080"), a2 + 8 * unit(a2 - a1) + shift,
                                     a1 - 12 * unit(a2 - a1) + shift, catalog=cat, role=SUPRA_ACETABULAR))
    low = paths["left supra-acetabular into the hip joint"]
    screws.append(screw_from_implant("supra-acetabular left (too low)", cat.get("CS-7.3-T16-055"), low["entry_lps"],
                                     low["tip_lps"], catalog=cat, role=SUPRA_ACETABULAR))
    contained = next(l for l in anat.lesions if not l.breaks_cortex)
    lesions = [LesionSeed("left supra-acetabular metastasis", contained.center + [2.0, 0.0, 1.0], "moderate"),
               LesionSeed("right supra-acetabular metastasis", lesion.center, "functional")]
    cement = [CementInjection("cement left", contained.center, 3.0), CementInjection("cement right", lesion.center, 3.5)]
    return Plan("phantom demo", screws, lesions, cement, margin_mm=1.0)


def run_demo(out: Path, quiet: bool = False) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with progress_bar("phantom", quiet) as bar:
        ct_path, truth_path = write_phantom(out / "phantom.nrrd", progress=bar)
    truth = json.loads(truth_path.read_text())
    ct = read_ct(ct_path)
    with progress_bar("bone model", quiet) as bar:
        bone = build_bone_model(ct, progress=bar)
    write_bone_outputs(bone, out, segmentation=False)  # plan.seg.nrrd, written below, holds the bone segments
    plan = demo_plan(truth)
    with progress_bar("plan", quiet) as bar:
        report = run_plan(ct, plan, out, bone=bone, progress=bar, suggest=["supra-acetabular left (too low)"])
    vols = bone.volumes_ml()
    print(f"CT phantom: {ct_path} (ground truth: {truth_path.name}); coordinates: LPS mm")
    print(f"bone model: bone {vols['bone']:.0f} mL, cortex {vols['cortex']:.0f} mL, metal {vols['metal']:.1f} mL ("
          + ", ".join(c["name"] for c in bone.components) + ")\n")
    print_screw_table(report)
    print()
    print_lesion_tables(report)
    html = None
    try:
        from ..report.html_report import write_report

        with progress_bar("report", quiet) as bar:
            html = write_report(out, report=report, bone=bone, ct=ct)
    except ImportError:
        pass
    print(f"\nbundle in {out.resolve()}: plan.mrk.json (open in Slicer), plan.seg.nrrd, screws/, report.json"
          + (f", {Path(html).name}" if html else ""))
    return 0
