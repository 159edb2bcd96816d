"""Run a plan on a CT: bone model, clearance checks, guidance, pair gaps, femoral-neck metrics and the output
folder (``report.json``, ``plan.mrk.json``, ``plan.seg.nrrd`` with bone, lesion and cement segments,
``screws/<name>.vtk|.stl`` in LPS)."""

from __future__ import annotations

import re
from pathlib import Path

from ..bone.contrast import contrast_note
from ..bone.outputs import bone_segments, write_polydata
from ..bone.pelvic_views import fitted_inlet_outlet_deg
from ..errors import PosteoInputError, check_margin_mm
from ..fileio.segmentation import write_segmentation
from ..report.json_report import build_report, screw_entry, write_report
from ..screws.clearance import check_screws
from ..screws.femoral_neck import neck_set_metrics
from ..screws.guidance import compute_guidance
from ..screws.head_seat import head_seat
from ..screws.model import screw_polydata_lps
from .markups import save_plan
from .model import Plan


def safe_file_name(name: str) -> str:
    """A file-system-safe version of a screw name."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return out or "screw"


def _add_anchorage(report: dict) -> None:
    """Copy each screw's relation to the lesions it crosses into its report entry (shortest anchorage)."""
    for entry in report["screws"]:
        rel = [r for les in report["lesions"] for r in les.get("screws", []) if r.get("screw") == entry["name"] and r.get("crosses_lesion")]
        entry["anchorage_beyond_lesion_mm"] = min((r["anchorage_mm"] for r in rel), default=None)
        entry["bridges_lesion"] = bool(rel) and all(r.get("bridges") for r in rel)


def _confirm_exact(screws, bone, margin_mm, entries, warnings):
    from ..screws.mesh_check import confirm_exact

    for entry, exact in zip(entries, confirm_exact(screws, bone, margin_mm)):
        entry["exact"] = exact
        if exact["grade"] == "breach" and entry["grade"] != "breach":
            warnings.append(f"screw '{entry['name']}': the exact mesh check finds a breach "
                            f"(min clearance {exact['min_clearance_mm']:.2f} mm) that the distance field grades {entry['grade']}")


def run_plan(ct, plan: Plan, out_dir, bone=None, catalog=None, progress=None, suggest: list | None = None,
             exact: bool = False) -> dict:
    """Check every screw of ``plan`` on ``ct`` and write the output folder; returns the report dictionary.

    ``suggest``: names of screws for which trajectory suggestions are added (``report["suggestions"][name]``).
    ``exact``: confirm every screw's clearance on the bone surface mesh too (``entry["exact"]``; a screw the mesh
    finds breaching while the field does not is named in the warnings).
    """
    report_progress = progress or (lambda f, m: None)
    if not (plan.screws or plan.lesions or plan.cement):
        raise PosteoInputError(plan.name, "nothing to plan: the plan has no screw, lesion or cement")
    margin = check_margin_mm(plan.margin_mm)
    names = [s.name for s in plan.screws]
    for n in suggest or []:
        if n not in names:
            raise PosteoInputError(f"--suggest {n}", f"no screw of that name in the plan ({', '.join(names)})")
    if bone is None:
        from ..bone.model import build_bone_model

        bone = build_bone_model(ct, progress=lambda f, m: report_progress(0.7 * f, m))
    lc = {"lesions": [], "cement": [], "segments": []}
    if plan.lesions or plan.cement:
        from ..lesions.analysis import analyze_lesions_and_cement

        report_progress(0.7, "lesions and cement")
        lc = analyze_lesions_and_cement(ct, bone, plan)
        # lesions belong to the bone envelope even where they break through the cortex
        lesion_names = {l.name for l in plan.lesions}
        bone = bone.including([m for name, m, _ in lc["segments"] if name in lesion_names])
    report_progress(0.75, "checking screws")
    checks, pairs = check_screws(plan.screws, bone, margin, metal=True, catalog=catalog)
    entries, warnings = [], []
    for s, c in zip(plan.screws, checks):
        try:
            g = compute_guidance(s, ct, patient_position=plan.patient_position).to_dict()
        except PosteoInputError as exc:
            g = None
            warnings.append(f"screw '{s.name}': no guidance: {exc.problem}")
        entry = screw_entry(s, c, g)
        entry["head_seat"] = head_seat(s, ct, bone.parameters.bone_threshold_hu, catalog)
        if entry["head_seat"]["washer_advised"]:
            warnings.append(f"screw '{s.name}': {entry['head_seat']['note']}")
        entries.append(entry)
    if exact:
        _confirm_exact(plan.screws, bone, margin, entries, warnings)
    quality = bone.ct_quality or {}
    if quality.get("message"):
        warnings.insert(0, quality["message"])
    if bone.contrast_ml > 0:
        warnings.append(contrast_note(bone.contrast_ml))
    # a lesion's own warnings (a noisy CT, a lesion reaching the search box's edge) are the report's too
    warnings += [f"lesion '{les['name']}': {w}" for les in lc["lesions"] for w in les.get("warnings", [])]
    necks = neck_set_metrics(plan.screws, bone)
    warnings += [f"femoral neck ({m['side']}): {f}" for m in necks for f in (m.get("configuration") or {}).get("findings", [])]
    extra = {"plan": plan.name, "patient_position": plan.patient_position, "femoral_neck": necks, "warnings": warnings,
             "fluoroscopy_views": fitted_inlet_outlet_deg(bone),
             "ct_quality": quality}
    if suggest:
        from ..screws.suggest import suggest_trajectories

        extra["suggestions"] = {n: [x.to_dict() for x in suggest_trajectories(plan.screw(n), bone, catalog, margin)]
                                for n in suggest}
    report = build_report(ct, margin, entries, pairs, bone.volumes_ml(), extra)
    segments = bone_segments(bone) + lc["segments"]
    if lc["lesions"] or lc["cement"]:
        report["lesions"], report["cement"] = lc["lesions"], lc["cement"]
        _add_anchorage(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report_progress(0.8, "writing screw models")
    used = set()
    for s in plan.screws:
        stem = safe_file_name(s.name)
        while stem in used:
            stem += "_"
        used.add(stem)
        poly = screw_polydata_lps(s)
        write_polydata(out / "screws" / f"{stem}.vtk", poly)
        write_polydata(out / "screws" / f"{stem}.stl", poly)
    report_progress(0.9, "writing the segmentation and the plan")
    write_segmentation(out / "plan.seg.nrrd", segments, bone.geometry)
    results = {e["name"]: {"grade": e["grade"], "min_clearance_mm": e["min_clearance_mm"]} for e in entries}
    plan.results = results
    save_plan(plan, out / "plan.mrk.json", results)
    write_report(out / "report.json", report)
    report_progress(1.0, "done")
    return report
