"""``posteo demo``: the whole workflow on the built-in phantom, with a progress bar and a readable summary."""

from __future__ import annotations

from pathlib import Path

from .bone_model import build_bone_model
from .bone_outputs import write_bone_outputs
from .phantom import write_phantom
from .volume_io import read_ct


def run_demo(out: Path, quiet: bool = False) -> int:
    from .cli import _Progress

    out.mkdir(parents=True, exist_ok=True)
    bar = _Progress("phantom", enabled=not quiet)
    try:
        ct_path, truth_path = write_phantom(out / "phantom.nrrd", progress=bar)
    finally:
        bar.close()
    ct = read_ct(ct_path)
    bar = _Progress("bone model", enabled=not quiet)
    try:
        model = build_bone_model(ct, progress=bar)
    finally:
        bar.close()
    paths = write_bone_outputs(model, out)
    vols = model.volumes_ml()
    print(f"CT phantom: {ct_path} (ground truth {truth_path.name})")
    print(f"bone model: bone {vols['bone']:.0f} mL, cortex {vols['cortex']:.0f} mL, metal {vols['metal']:.1f} mL")
    for c in model.components:
        print(f"  {c['name']:<20} {c['volume_ml']:7.1f} mL")
    print(f"outputs in {out.resolve()}: " + ", ".join(p.name for p in paths.values()))
    return 0
