"""``posteo``: the command-line tool (also ``python -m PercutaneousOsteosynthesisLib``).

Exit codes: 0 success (for plan/check: every screw excellent or acceptable), 1 a screw breaches,
2 bad input (the message names the file and the problem).
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import __version__
from ..errors import PosteoInputError
from ..phantom.anatomy import CLOSABLE_PATHWAYS
from ..phantom.ct import PRESETS as PHANTOM_PRESETS
from ..screws.guidance import PATIENT_POSITIONS
from ..screws.roles import ROLES
from .args import SCREW_FORMAT
from .commands import cmd_bone, cmd_check, cmd_corridors, cmd_demo, cmd_phantom, cmd_plan, cmd_report, cmd_serve


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
    p.add_argument("--spacing", type=float, default=1.0, help="voxel size in mm (default 1); coarser than 1 mm: rendered at 1 mm or finer "
                   "and averaged, with the partial volume of a thick reconstruction")
    p.add_argument("--direction", choices=["identity", "flipped", "oblique"], default="oblique")
    p.add_argument("--osteoporotic", action="store_true", help="thin cortex and low-density cancellous bone (= --preset osteoporotic)")
    p.add_argument("--preset", choices=sorted(PHANTOM_PRESETS), default=None,
                   help="bone of the phantom; elderly: 1 mm cortex, 90 HU cancellous bone, fatty marrow, 30 HU lytic lesions")
    p.add_argument("--corridors", action="store_true", help="add the osseous fixation pathways to the truth (about a minute)")
    p.add_argument("--closed-pathway", choices=CLOSABLE_PATHWAYS, default=None,
                   help="make this pathway too narrow for any screw (a pelvis where it is closed)")
    p.add_argument("--contrast-hu", type=float, default=None,
                   help="a vessel along each pelvic wall, 1 mm from the acetabulum, reads this HU (after contrast injection)")
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("bone", help="build the bone model of a CT (bone.seg.nrrd, bone_surface.vtk, bone.json)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("--out", required=True, help="output folder")
    _add_bone_options(p)
    p.set_defaults(func=cmd_bone)

    p = sub.add_parser("plan", help="check screws given on the command line (exit 1 when a screw breaches)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("--out", required=True, help="output folder (report.json, report.html, plan.mrk.json, plan.seg.nrrd, screws/)")
    p.add_argument("--screw", action="append", metavar=SCREW_FORMAT,
                   help="a screw: name, catalog implant id, entry and tip in LPS mm (length snapped to the catalog) and optional role ("
                   + ", ".join(r.replace(" ", "-") for r in ROLES) + "; default: implied by the name, else other); repeatable")
    p.add_argument("--margin", type=float, default=None, help="safety margin in mm (default 1)")
    p.add_argument("--exact", action="store_true", help="confirm every screw's clearance on the bone surface mesh too")
    p.add_argument("--bicortical", action="append", metavar="NAME",
                   help="this screw's tip is meant to bite the far cortex (protrusion up to 5 mm is intended); repeatable")
    p.add_argument("--suggest", action="append", metavar="NAME", help="suggest better trajectories for this screw; repeatable")
    p.add_argument("--patient-position", choices=PATIENT_POSITIONS, default="supine",
                   help="the patient on the CT table (sets the gantry tilt axis; lateral-left = left side down)")
    p.add_argument("--lesion-seed", action="append", metavar="NAME:X,Y,Z[:PAIN]",
                   help="a point inside a lytic lesion (LPS mm); optional pain mild|moderate|functional; repeatable")
    p.add_argument("--cement", action="append", metavar="NAME:X,Y,Z:VOLUME_ML",
                   help="a cement injection: needle tip (LPS mm) and volume (mL); repeatable")
    p.add_argument("--corridors", nargs="*", default=None, metavar="PATHWAY",
                   help="add the widest safe screw of these osseous fixation pathways found on the CT (names such as "
                   "'S1 transsacral' or 'left femoral neck'; none given: all of them; see posteo corridors)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("corridors", help="find the osseous fixation pathways and the widest safe screw in each")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("--out", required=True, help="output folder (corridors.json, plan.mrk.json, corridors.html)")
    p.add_argument("--side", choices=("left", "right", "both"), default="both", help="sides of the sided pathways")
    p.add_argument("--margin", type=float, default=1.0, help="bone left all round the screw, in mm (default 1)")
    _add_bone_options(p)
    p.set_defaults(func=cmd_corridors)

    p = sub.add_parser("check", help="check a saved plan (.mrk.json) on a CT (exit 1 when a screw breaches)")
    p.add_argument("ct", help="CT in HU: NRRD, NIfTI, MHA or a DICOM series folder")
    p.add_argument("plan", help="plan file (.mrk.json), a list of files or a folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--margin", type=float, default=None, help="safety margin in mm (default: the plan's)")
    p.add_argument("--exact", action="store_true", help="confirm every screw's clearance on the bone surface mesh too")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="write report.html (and report.pdf) of a plan folder written by plan/check/demo")
    p.add_argument("plan_dir", help="the plan folder (holds report.json)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("serve", help="the planner in a web browser (needs the web extra: pip install -e '.[web]')")
    p.add_argument("ct", nargs="?", help="CT in HU to open (NRRD, NIfTI, MHA or a DICOM series folder)")
    p.add_argument("--phantom", action="store_true", help="open the built-in CT phantom")
    p.add_argument("--preset", choices=sorted(PHANTOM_PRESETS), default="default", help="phantom preset (default: default)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--host", default="localhost", help="address to listen on (default localhost; 0.0.0.0 for the network)")
    p.add_argument("--out", default="posteo-web", help="folder where plans are saved (default ./posteo-web)")
    p.set_defaults(func=cmd_serve)

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
