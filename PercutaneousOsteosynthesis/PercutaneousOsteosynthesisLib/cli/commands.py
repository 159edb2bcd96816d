"""The ``posteo`` sub-commands: each takes the parsed arguments and returns the exit code."""

from __future__ import annotations

from pathlib import Path

from ..errors import PosteoInputError, check_margin_mm
from .args import parse_cement_arg, parse_lesion_arg, parse_screw_arg
from .progress import progress_bar
from .tables import print_lesion_tables, print_screw_table


def cmd_phantom(args) -> int:
    from ..phantom.ct import write_phantom

    with progress_bar("phantom", args.quiet) as bar:
        ct_path, truth_path = write_phantom(args.out, progress=bar, spacing=args.spacing, direction=args.direction,
                                            osteoporotic=args.osteoporotic, preset=args.preset, corridors=args.corridors,
                                            closed_pathway=args.closed_pathway, partial_volume=True,
                                            contrast_hu=args.contrast_hu)
    print(f"wrote {ct_path}\nwrote {truth_path}")
    return 0


def _bone_params(args):
    from ..bone.model import BoneParameters

    return BoneParameters(bone_threshold_hu=args.bone_threshold, cortex_threshold_hu=args.cortex_threshold,
                          metal_threshold_hu=args.metal_threshold)


def cmd_bone(args) -> int:
    from ..bone.model import build_bone_model
    from ..bone.outputs import write_bone_outputs
    from ..fileio.volume import read_ct

    params = _bone_params(args)
    params.validate()
    ct = read_ct(args.ct)
    with progress_bar("bone model", args.quiet) as bar:
        model = build_bone_model(ct, params, progress=bar)
    paths = write_bone_outputs(model, args.out)
    vols = model.volumes_ml()
    print(f"bone {vols['bone']:.1f} mL, cortex {vols['cortex']:.1f} mL, metal {vols['metal']:.2f} mL")
    if model.contrast_ml > 0:
        from ..bone.contrast import contrast_note

        print(contrast_note(model.contrast_ml))
    for c in model.components:
        print(f"  {c['name']:<28} {c['volume_ml']:8.1f} mL")
    for p in paths.values():
        print(f"wrote {p}")
    return 0


def cmd_report(args) -> int:
    from ..report.html_report import write_report

    html = write_report(Path(args.plan_dir))
    print(f"wrote {html}" + (f" and {html.with_suffix('.pdf')}" if html.with_suffix(".pdf").exists() else ""))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), quiet=args.quiet)


def _pathway_names(wanted: list) -> set:
    """The pathway names of ``--corridors`` values ("S1 transsacral", "left femoral neck"); unknown ones refused."""
    from ..corridors.pathways import BY_NAME

    names = {w.split(" ", 1)[1] if w.split(" ", 1)[0] in ("left", "right") else w for w in wanted}
    names = {n.removesuffix(" triad") if n == "femoral neck triad" else n for n in names}
    unknown = sorted(n for n in names if n not in BY_NAME)
    if unknown:
        raise PosteoInputError(f"--corridors {unknown[0]}", f"no such pathway; one of {', '.join(BY_NAME)}")
    return names


def _add_corridors(plan, ct, bone, wanted: list, quiet: bool) -> None:
    """Add the screws of the corridors found on the CT to the plan: those named in ``wanted`` (a pathway, e.g.
    "S1 transsacral", or a pathway and side, "left femoral neck"; "left femoral neck triad": its three parallel
    screws; empty: all single corridors), except names the plan already has."""
    from ..corridors.find import find_corridors
    from .tables import print_corridor_table

    names = _pathway_names(wanted)
    with progress_bar("corridors", quiet) as bar:
        corridors = find_corridors(bone, ct, margin_mm=plan.margin_mm, names=names or None, progress=bar)
    chosen = [c for c in corridors if not wanted or c.label in wanted or c.name in wanted]
    triads = [c.triad for c in corridors if c.triad is not None and (c.triad.label in wanted or "femoral neck triad" in wanted)]
    chosen = [c for c in chosen if not any(t.label == c.label + " triad" for t in triads)]
    print_corridor_table(chosen + [c for c in corridors if c.triad in triads])
    for t in triads:
        if not t.found:
            raise PosteoInputError(f"--corridors {t.label}", f"no safe triad: {t.reason}")
    taken = {s.name for s in plan.screws}
    plan.screws += [c.screw() for c in chosen if c.found and c.label not in taken]
    plan.screws += [s for t in triads for s in t.screws if s.name not in taken]


def _run_and_report(args, plan, corridors: list | None = None) -> int:
    from ..bone.model import build_bone_model
    from ..fileio.volume import read_ct
    from ..plan.runner import run_plan

    if args.margin is not None:
        plan.margin_mm = check_margin_mm(args.margin, "--margin")
    ct = read_ct(args.ct)
    with progress_bar("bone model", args.quiet) as bar:  # kept for the report's pictures
        bone = build_bone_model(ct, progress=bar)
    if corridors is not None:
        _add_corridors(plan, ct, bone, corridors, args.quiet)
    with progress_bar("plan", args.quiet) as bar:
        report = run_plan(ct, plan, args.out, bone=bone, progress=bar, suggest=getattr(args, "suggest", None), exact=args.exact)
    print_screw_table(report)
    print_lesion_tables(report)
    html = _write_html_report(Path(args.out), report, bone, ct)
    print(f"wrote {Path(args.out) / 'report.json'}" + (f" and {html}" if html else ""))
    return 1 if any(s["grade"] == "breach" for s in report["screws"]) else 0


def cmd_plan(args) -> int:
    from ..plan.model import Plan

    if not (args.screw or args.lesion_seed or args.cement or args.corridors is not None):
        raise PosteoInputError("posteo plan", "nothing to plan: give at least one --screw, --lesion-seed, --cement or "
                                              "--corridors (cementoplasty and lesion-only plans need no screw)")
    _pathway_names(args.corridors or [])
    screws = [parse_screw_arg(t) for t in args.screw or []]
    names = [s.name for s in screws]
    for name in args.bicortical or []:
        if name not in names:
            raise PosteoInputError(f"--bicortical {name}", f"no screw of that name ({', '.join(names) or 'no screws'})")
        screws[names.index(name)].bicortical = True
    lesions = [parse_lesion_arg(t) for t in args.lesion_seed or []]
    cement = [parse_cement_arg(t) for t in args.cement or []]
    plan = Plan(name=Path(args.out).name or "plan", screws=screws, lesions=lesions, cement=cement,
                patient_position=args.patient_position)
    return _run_and_report(args, plan, corridors=args.corridors)


def _write_html_report(out: Path, report: dict, bone=None, ct=None):
    """report.html beside report.json, its 3D views with the bone model's surface and its probe's-eye slices on the CT
    (None when the report module is not available)."""
    try:
        from ..report.html_report import write_report
    except ImportError:
        return None
    return write_report(out, report=report, bone=bone, ct=ct)


def _sides(text: str) -> tuple:
    return ("left", "right") if text == "both" else (text,)


def cmd_corridors(args) -> int:
    from ..bone.model import build_bone_model
    from ..corridors.find import find_corridors, plan_screws
    from ..corridors.io import corridors_document, write_corridors
    from ..fileio.volume import read_ct
    from ..plan.markups import save_plan
    from ..plan.model import Plan
    from ..report.corridors_html import write_corridors_html
    from .tables import print_corridor_table

    margin = check_margin_mm(args.margin, "--margin")
    ct = read_ct(args.ct)
    out = Path(args.out)
    with progress_bar("bone model", args.quiet) as bar:
        bone = build_bone_model(ct, _bone_params(args), progress=bar)
    with progress_bar("corridors", args.quiet) as bar:
        corridors = find_corridors(bone, ct, sides=_sides(args.side), margin_mm=margin, progress=bar)
    print_corridor_table(corridors)
    paths = [write_corridors(out / "corridors.json", corridors, ct, margin)]
    plan = Plan(name="corridors", screws=plan_screws(corridors), margin_mm=margin, ct_source=ct.source)
    paths.append(save_plan(plan, out / "plan.mrk.json"))
    paths.append(write_corridors_html(out / "corridors.html", corridors_document(corridors, ct, margin), corridors, bone))
    for p in paths:
        print(f"wrote {p}")
    return 0


def cmd_check(args) -> int:
    from ..plan.markups import load_plan

    return _run_and_report(args, load_plan(args.plan))


def cmd_serve(args) -> int:
    """The web planner (``PercutaneousOsteosynthesisWeb``, installed with the web extra) on a CT or the phantom."""
    import importlib

    from ..fileio.volume import read_ct

    try:
        web = importlib.import_module("PercutaneousOsteosynthesisWeb.app")
    except ImportError as exc:
        raise PosteoInputError("posteo serve", f"the web planner needs the web extra ({exc}): pip install -e '.[web]'") from exc
    if args.ct and args.phantom:
        raise PosteoInputError("posteo serve", "give a CT or --phantom, not both")
    ct = read_ct(args.ct) if args.ct else None  # a bad file is refused before the server starts
    return web.serve(ct=ct, phantom=args.phantom, port=args.port, host=args.host, out_dir=args.out,
                     phantom_options={"preset": args.preset})
