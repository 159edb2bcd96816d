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


def cmd_report(args) -> int:
    from .report_html import write_report

    html = write_report(Path(args.plan_dir))
    print(f"wrote {html}" + (f" and {html.with_suffix('.pdf')}" if html.with_suffix(".pdf").exists() else ""))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), quiet=args.quiet)


def parse_screw_arg(text: str, catalog=None):
    """A screw from ``NAME:IMPLANT_ID:EX,EY,EZ:TX,TY,TZ`` (LPS mm), its length snapped to the catalog."""
    from .implants import default_catalog, screw_from_implant

    where = f"--screw {text!r}"
    parts = str(text).rsplit(":", 3)
    if len(parts) != 4 or not parts[0].strip():
        raise PosteoInputError(where, "expected NAME:IMPLANT_ID:EX,EY,EZ:TX,TY,TZ (LPS mm)")
    name, implant_id, e_txt, t_txt = (p.strip() for p in parts)
    points = [_parse_point(e_txt, where, "entry"), _parse_point(t_txt, where, "tip")]
    cat = catalog if catalog is not None else default_catalog()
    try:
        return screw_from_implant(name, cat.get(implant_id), points[0], points[1], catalog=cat)
    except PosteoInputError as exc:
        raise PosteoInputError(where, exc.problem if exc.source.startswith("screw") else str(exc)) from None


def _parse_point(text: str, where: str, what: str = "point"):
    """Three finite comma-separated numbers (LPS mm) from a command-line argument ``where``."""
    import math

    try:
        xyz = [float(v) for v in text.split(",")]
    except ValueError:
        raise PosteoInputError(where, f"{what} must be three numbers separated by commas, got {text!r}") from None
    if len(xyz) != 3 or not all(math.isfinite(v) for v in xyz):
        raise PosteoInputError(where, f"{what} must be three finite numbers separated by commas, got {text!r}")
    return xyz


def parse_lesion_arg(text: str):
    """A lesion seed from ``NAME:X,Y,Z[:PAIN]`` (LPS mm; pain mild|moderate|functional for the Mirels score)."""
    from .plan import PAIN_LEVELS, LesionSeed

    where = f"--lesion-seed {text!r}"
    parts = str(text).split(":")
    if len(parts) not in (2, 3) or not parts[0].strip():
        raise PosteoInputError(where, "expected NAME:X,Y,Z or NAME:X,Y,Z:PAIN (LPS mm)")
    pain = parts[2].strip() if len(parts) == 3 else None
    if pain is not None and pain not in PAIN_LEVELS:
        raise PosteoInputError(where, f"pain must be one of {', '.join(PAIN_LEVELS)}, got {pain!r}")
    return LesionSeed(parts[0].strip(), _parse_point(parts[1], where), pain)


def parse_cement_arg(text: str):
    """A cement injection from ``NAME:X,Y,Z:VOLUME_ML`` (LPS mm)."""
    from .plan import CementInjection

    where = f"--cement {text!r}"
    parts = str(text).split(":")
    if len(parts) != 3 or not parts[0].strip():
        raise PosteoInputError(where, "expected NAME:X,Y,Z:VOLUME_ML (LPS mm, mL)")
    try:
        volume = float(parts[2])
    except ValueError:
        raise PosteoInputError(where, f"volume must be a number of mL, got {parts[2]!r}") from None
    try:
        return CementInjection(parts[0].strip(), _parse_point(parts[1], where), volume)
    except PosteoInputError as exc:
        raise PosteoInputError(where, exc.problem) from None


def print_lesion_tables(report: dict):
    for les in report.get("lesions", []):
        m = les.get("mirels") or {}
        mirels = f"Mirels {m['total']} ({m['reading']})" if m.get("total") is not None else "Mirels n/a"
        print(f"lesion {les['name']}: {les['volume_ml']:.1f} mL, {les['max_diameter_mm']:.0f} mm, {les['type']}, "
              f"{'breaks through the cortex' if les['cortical_breakthrough'] else 'contained'}, {mirels}")
    for c in report.get("cement", []):
        risk = c["leak_risk"]
        why = ", ".join(f"{r['kind']} {r['distance_mm']:.1f} mm" for r in risk.get("reasons", []))
        fill = ", ".join(f"{k} {100 * v:.0f} %" for k, v in c.get("lesion_fill_fraction", {}).items())
        print(f"cement {c['name']}: {c['volume_ml']:.1f} mL; fills {fill or 'no lesion'}; "
              f"leak risk: {'YES (' + why + ')' if risk['at_risk'] else 'no'}")


def print_screw_table(report: dict):
    cols = f"{'screw':<28} {'implant':<16} {'length':>7} {'min clear':>10} {'at':>6} {'breach':>7} {'tip out':>7}  grade"
    print(cols)
    print("-" * len(cols))
    for s in report["screws"]:
        flags = []
        if s["tip_in_joint"]:
            flags.append("tip in joint")
        if s["joints_crossed"]:
            flags.append(f"crosses {s['joints_crossed']} SI joint" + ("s" if s["joints_crossed"] > 1 else ""))
        if s["metal_clearance_mm"] is not None and s["metal_clearance_mm"] < report["margin_mm"]:
            flags.append(f"metal {s['metal_clearance_mm']:.1f} mm")
        print(f"{s['name'][:28]:<28} {str(s['implant_id'])[:16]:<16} {s['length_mm']:7.1f} {s['min_clearance_mm']:10.2f} "
              f"{s['min_clearance_at_mm']:6.1f} {s['breach_length_mm']:7.1f} {s['tip_protrusion_mm']:7.1f}  {s['grade']}"
              + (f" ({', '.join(flags)})" if flags else ""))
    for p in report["pairs"]:
        print(f"gap {p['a']} / {p['b']}: {p['min_gap_mm']:.1f} mm")
    for name, sugs in report.get("suggestions", {}).items():
        print(f"suggestions for {name}:")
        if not sugs:
            print("  none: no nearby trajectory stays in bone")
        for x in sugs:
            e, t = x["entry_lps"], x["tip_lps"]
            print(f"  {x['implant_id']:<16} min clear {x['min_clearance_mm']:6.2f} mm ({x['grade']}) "
                  f"entry {e[0]:.1f},{e[1]:.1f},{e[2]:.1f} tip {t[0]:.1f},{t[1]:.1f},{t[2]:.1f}")
    for m in report.get("femoral_neck", []):
        tad = m.get("tip_apex_distance_mm") or {}
        print(f"femoral neck set ({m['side']}): max angle {m.get('max_angle_deg', float('nan')):.1f} deg, spread "
              f"{m.get('max_distance_mm', float('nan')):.1f} mm" + (", tip-apex " + ", ".join(f"{k} {v:.1f} mm" for k, v in tad.items())
                                                                    if tad else ""))
    for w in report.get("warnings", []):
        print(f"warning: {w}")


def _run_and_report(args, plan) -> int:
    from .plan_runner import run_plan
    from .volume_io import read_ct

    if args.margin is not None:
        if not (args.margin >= 0 and args.margin < float("inf")):
            raise PosteoInputError(f"--margin {args.margin}", "must be a finite number of mm >= 0")
        plan.margin_mm = args.margin
    ct = read_ct(args.ct)
    bar = _progress(args, "plan")
    try:
        report = run_plan(ct, plan, args.out, progress=bar, suggest=getattr(args, "suggest", None))
    finally:
        bar.close()
    print_screw_table(report)
    print_lesion_tables(report)
    html = _write_html_report(Path(args.out), report)
    print(f"wrote {Path(args.out) / 'report.json'}" + (f" and {html}" if html else ""))
    return 1 if any(s["grade"] == "breach" for s in report["screws"]) else 0


def cmd_plan(args) -> int:
    from .plan import Plan

    screws = [parse_screw_arg(t) for t in args.screw]
    lesions = [parse_lesion_arg(t) for t in args.lesion_seed or []]
    cement = [parse_cement_arg(t) for t in args.cement or []]
    return _run_and_report(args, Plan(name=Path(args.out).name or "plan", screws=screws, lesions=lesions, cement=cement))


def _write_html_report(out: Path, report: dict):
    """report.html beside report.json (None when the report module is not available)."""
    try:
        from .report_html import write_report
    except ImportError:
        return None
    return write_report(out, report=report)


def cmd_check(args) -> int:
    from .plan_markups import load_plan

    return _run_and_report(args, load_plan(args.plan))


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

    p = sub.add_parser("plan", help="check screws given on the command line (exit 1 when a screw breaches)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("--out", required=True, help="output folder (report.json, report.html, plan.mrk.json, plan.seg.nrrd, screws/)")
    p.add_argument("--screw", action="append", required=True, metavar="NAME:IMPLANT_ID:EX,EY,EZ:TX,TY,TZ",
                   help="a screw: name, catalog implant id, entry and tip in LPS mm (length snapped to the catalog); repeatable")
    p.add_argument("--margin", type=float, default=None, help="safety margin in mm (default 1)")
    p.add_argument("--suggest", action="append", metavar="NAME", help="suggest better trajectories for this screw; repeatable")
    p.add_argument("--lesion-seed", action="append", metavar="NAME:X,Y,Z[:PAIN]",
                   help="a point inside a lytic lesion (LPS mm); optional pain mild|moderate|functional; repeatable")
    p.add_argument("--cement", action="append", metavar="NAME:X,Y,Z:VOLUME_ML",
                   help="a cement injection: needle tip (LPS mm) and volume (mL); repeatable")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("check", help="check a saved plan (.mrk.json) on a CT (exit 1 when a screw breaches)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("plan", help="plan file (.mrk.json), a list of files or a folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--margin", type=float, default=None, help="safety margin in mm (default: the plan's)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="write report.html (and report.pdf) of a plan folder written by plan/check/demo")
    p.add_argument("plan_dir", help="the plan folder (holds report.json)")
    p.set_defaults(func=cmd_report)

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
