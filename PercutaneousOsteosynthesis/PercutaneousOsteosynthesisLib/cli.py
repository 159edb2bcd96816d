"""``posteo``: the command-line tool (also ``python -m PercutaneousOsteosynthesisLib``).

Exit codes: 0 success (for plan/check: every screw excellent or acceptable), 1 a screw breaches,
2 bad input (the message names the file and the problem).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .errors import PosteoInputError


class _Progress:
    """A tqdm bar fed by the Lib's ``progress(fraction, message)`` callbacks."""

    def __init__(self, desc: str, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=100, desc=desc, unit="%", leave=False, disable=not enabled,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def __call__(self, fraction: float, message: str):
        self.bar.n = int(round(100 * max(0.0, min(1.0, fraction))))
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()


def _progress(args, desc):
    return _Progress(desc, enabled=not args.quiet)


def cmd_phantom(args) -> int:
    from .phantom import write_phantom

    bar = _progress(args, "phantom")
    try:
        ct_path, truth_path = write_phantom(args.out, progress=bar, spacing=args.spacing, direction=args.direction,
                                            osteoporotic=args.osteoporotic)
    finally:
        bar.close()
    print(f"wrote {ct_path}\nwrote {truth_path}")
    return 0


def _bone_params(args):
    from .bone_model import BoneParameters

    return BoneParameters(bone_threshold_hu=args.bone_threshold, cortex_threshold_hu=args.cortex_threshold,
                          metal_threshold_hu=args.metal_threshold)


def cmd_bone(args) -> int:
    from .bone_model import build_bone_model
    from .bone_outputs import write_bone_outputs
    from .volume_io import read_ct

    params = _bone_params(args)
    params.validate()
    ct = read_ct(args.ct)
    bar = _progress(args, "bone model")
    try:
        model = build_bone_model(ct, params, progress=bar)
    finally:
        bar.close()
    paths = write_bone_outputs(model, args.out)
    vols = model.volumes_ml()
    print(f"bone {vols['bone']:.1f} mL, cortex {vols['cortex']:.1f} mL, metal {vols['metal']:.2f} mL")
    for c in model.components:
        print(f"  {c['name']:<28} {c['volume_ml']:8.1f} mL")
    for p in paths.values():
        print(f"wrote {p}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), quiet=args.quiet)


def _add_bone_options(p):
    p.add_argument("--bone-threshold", type=float, default=200.0, help="HU of candidate bone (default 200)")
    p.add_argument("--cortex-threshold", type=float, default=600.0, help="HU of cortical bone (default 600)")
    p.add_argument("--metal-threshold", type=float, default=2500.0, help="HU of metal (default 2500)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="posteo", description="Plan percutaneous osteosynthesis and cementoplasty on a CT. "
                                 "All coordinates are LPS millimetres.")
    ap.add_argument("--version", action="version", version=f"posteo {__version__}")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("phantom", help="write the built-in CT phantom and its ground truth")
    p.add_argument("out", help="output image (.nrrd, .nii.gz, .mha); OUT.truth.json is written beside it")
    p.add_argument("--spacing", type=float, default=1.0, help="voxel size in mm (default 1)")
    p.add_argument("--direction", choices=["identity", "flipped", "oblique"], default="oblique")
    p.add_argument("--osteoporotic", action="store_true", help="thin cortex and low-density cancellous bone")
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("bone", help="build the bone model of a CT (bone.seg.nrrd, bone_surface.vtk, bone.json)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("--out", required=True, help="output folder")
    _add_bone_options(p)
    p.set_defaults(func=cmd_bone)

    p = sub.add_parser("demo", help="run the whole workflow on the built-in phantom")
    p.add_argument("--out", default="posteo-demo", help="output folder (default ./posteo-demo)")
    p.set_defaults(func=cmd_demo)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        code = args.func(args)
    except PosteoInputError as exc:
        print(f"posteo: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
