"""The plan report as one self-contained HTML file (``report.html``): summary, screw table, clearance plots,
3D views (AP, lateral, inlet, outlet), probe's-eye slices, lesion and cement tables.  Images are embedded as
base64 PNG data URIs, so the file can be mailed or archived alone.  All coordinates shown are LPS mm.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from ..errors import PosteoInputError
from ..fileio.atomic import write_text_atomic
from ..palette import BREACH_ROW_RGB, GRADE_RGB, GRADE_TEXT_RGB, hex_colour
from . import format as fmt
from .format import breakthrough_text, fill_text, fracture_risk_text, leak_reasons_text, leak_text, mirels_text, perforation_text

GRADE_STYLE = {g: f"background:{hex_colour(rgb)};color:{hex_colour(GRADE_TEXT_RGB[g])}" for g, rgb in GRADE_RGB.items()}
BREACH_ROW_STYLE = f"background:{hex_colour(BREACH_ROW_RGB)}"
VIEWS = ("AP", "lateral", "inlet", "outlet")
VIEW_NOTES = {"AP": "from the front; patient's left on the image's right",
              "lateral": "from the patient's left; anterior on the image's left",
              "inlet": "beam tilted {inlet:.0f}° caudally ({source}); patient's left on the right",
              "outlet": "beam tilted {outlet:.0f}° cranially ({source}); patient's left on the right"}


def _view_note(view: str, tilts: dict) -> str:
    return VIEW_NOTES.get(view, "").format(inlet=tilts["inlet_caudal_deg"], outlet=tilts["outlet_cranial_deg"], source=tilts["source"])


def _tilts(report: dict) -> dict:
    """The report's fitted inlet/outlet tilts, or the screening angles (reports written before they were fitted)."""
    from ..bone.pelvic_views import screening_views

    return report.get("fluoroscopy_views") or screening_views()


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _num(v, nd: int = 1, unit: str = "") -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        return "—" if not isinstance(v, bool) else ("yes" if v else "no")
    return f"{v:.{nd}f}{unit}"


def _vec(v, nd: int = 1) -> str:
    if v is None:
        return "—"
    return "(" + ", ".join(_num(float(x), nd) for x in v) + ")"


def _img_src(data) -> str:
    if isinstance(data, np.ndarray):
        from .render import png_bytes

        data = png_bytes(data)
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode("ascii")


def _img(data, alt: str, width: int | None = None) -> str:
    w = f' style="max-width:{width}px;width:100%"' if width else ' style="max-width:100%"'
    return f'<img src="{_img_src(data)}" alt="{_e(alt)}"{w}>'


def report_screws(report: dict) -> list:
    """The report's screws as (Screw, grade) pairs (LPS)."""
    from ..screws.screw import Screw

    out = []
    for e in report.get("screws", []):
        try:
            out.append((Screw(e["name"], e["entry_lps"], e["tip_lps"], e["diameter_mm"], e.get("implant_id"),
                              e.get("thread_length_mm"), role=e.get("role")), e.get("grade")))
        except KeyError as exc:
            raise PosteoInputError(f"report screw {e.get('name', '?')!r}", f"missing field {exc}") from None
    return out


def _bone_surface(bone):
    if bone is None:
        return None
    if hasattr(bone, "pelvis_surface_polydata_lps"):
        return bone.pelvis_surface_polydata_lps()  # without unrecognised bones (forearms) hiding the pelvis
    return bone  # already a vtkPolyData (LPS)


def _meshes(masks, bone):
    """(name, mask) on the bone model's grid or (name, mask, geometry) -> (name, vtkPolyData)."""
    from ..bone.surface import mask_surface_lps

    out = []
    for item in masks or []:
        name, mask = item[0], item[1]
        geo = item[2] if len(item) > 2 else getattr(bone, "geometry", None)
        if geo is None:
            raise PosteoInputError(f"mask {name!r}", "no geometry given and no bone model to take it from")
        if np.any(mask):
            out.append((name, mask_surface_lps(mask, geo)))
    return out


def build_report_images(report: dict, bone=None, ct=None, lesion_masks=None, cement_masks=None,
                        size=(640, 640), views=VIEWS) -> dict:
    """The report's pictures as PNG bytes: ``{"plots": {screw: png}, "views": {view: png}, "probes": {screw: png},
    "notes": [why a picture is missing]}``.

    ``bone``: BoneModel or the bone surface (vtkPolyData, LPS), for the 3D views and the cortex outline;
    ``ct``: CTVolume for the probe's-eye slices; masks: (name, mask[k, j, i]) on the bone model's grid or
    (name, mask, geometry).
    """
    from .plots import clearance_plot_png

    margin = float(report.get("margin_mm", 1.0))
    images = {"plots": {}, "views": {}, "probes": {}, "notes": []}
    for e in report.get("screws", []):
        prof = e.get("profile") or {}
        if len(prof.get("s_mm", [])) >= 2:
            images["plots"][e["name"]] = clearance_plot_png(prof["s_mm"], prof["clearance_mm"], margin, e["name"])
    screws = report_screws(report)
    surface = _bone_surface(bone)
    lesions, cement = _meshes(lesion_masks, bone), _meshes(cement_masks, bone)
    if surface is not None or screws:
        from .render import png_bytes, render_views

        try:
            arrays = render_views(surface, screws, lesions, cement, views=views, size=size, tilts=_tilts(report))
            images["views"] = {k: png_bytes(v) for k, v in arrays.items()}
        except Exception as exc:  # no OpenGL on this machine: the report is still useful without the 3D views
            images["notes"].append(f"3D views not rendered: {exc}")
        if surface is None:
            images["notes"].append("3D views without the bone surface (no bone model given)")
    if ct is not None:
        from .probe_view import probe_figure_png, probe_views

        model = bone if hasattr(bone, "labels") else None
        for screw, grade in screws:
            images["probes"][screw.name] = probe_figure_png(probe_views(ct, screw, model, grade), screw.name)
    else:
        images["notes"].append("probe's-eye slices need the CT (not given)")
    return images


CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#111;max-width:1350px}
h1{font-size:22px} h2{font-size:18px;border-bottom:1px solid #999;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #aaa;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#e8e8ee} td.num{text-align:right}
.grid{display:flex;flex-wrap:wrap;gap:10px} .grid figure{margin:0} figcaption{font-size:12px;color:#333}
.note{color:#555;font-size:12px}
"""

SCREW_COLUMNS = ("Screw", "Implant", "Ø (mm)", "Length (mm)", "Min clearance (mm) [at s]", "Breach length (mm)", "Grade",
                 "Perforation grade (depth out)", "No-go structures (nearest)",
                 "Tip protrusion (mm)", "Joints crossed", "Metal clearance (mm)", "Anchorage beyond lesion (mm)",
                 "Skin entry (LPS)", "Depth skin→bone / skin→tip (mm)", "Gantry tilt (°)", "In-plane angle (°)",
                 "Table position (mm) [slice]", "C-arm bull's-eye cranio-caudal / LAO-RAO; progress view LAO-RAO (°)")


def _screw_row(e: dict) -> str:
    grade = e.get("grade")
    row_style = f' style="{BREACH_ROW_STYLE}"' if grade == "breach" else ""
    cells = [
        _e(e.get("name")), _e(e.get("implant_id") or "—"), _num(e.get("diameter_mm")), _num(e.get("length_mm")),
        f"{_num(e.get('min_clearance_mm'), 2)} [{_num(e.get('min_clearance_at_mm'))}]", _num(e.get("breach_length_mm")),
        None, _e(perforation_text(e.get("perforation_grade"), e.get("perforation_mm"))),
        _e(fmt.nogo_text(e.get("nogo"), *(e.get(k, []) for k in fmt.ENTERED_KINDS))), _num(e.get("tip_protrusion_mm")),
        _e(e.get("joints_crossed", "—")), _num(e.get("metal_clearance_mm")),
        _num(e.get("anchorage_beyond_lesion_mm")), _vec(e.get("skin_entry_lps")),
        f"{_num(e.get('skin_to_bone_entry_mm'))} / {_num(e.get('skin_to_tip_mm'))}",
        _e(fmt.gantry_tilt_text(e, _num)),
        _num(e.get("inplane_angle_deg")),
        f"{_num(e.get('table_position_mm'))} [{_e(e.get('table_slice_index', '—') if e.get('table_slice_index') is not None else '—')}]",
        f"{_num(e.get('carm_cranio_caudal_deg'))} / {_num(e.get('carm_lao_rao_deg'))}; {_num(e.get('carm_progress_lao_rao_deg'))}",
    ]
    tds = []
    for c in cells:
        if c is None:
            tds.append(f'<td class="grade grade-{_e(grade)}" style="{GRADE_STYLE.get(grade, "")}">{_e(grade or "—")}</td>')
        else:
            tds.append(f"<td>{c}</td>")
    return f'<tr class="screw grade-{_e(grade)}"{row_style}>' + "".join(tds) + "</tr>"


def _table(head, rows) -> str:
    return ("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")


def _lesion_rows(report) -> list:
    rows = []
    for les in report.get("lesions", []):
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            _e(les.get("name")), _e(les.get("type", "—")), _num(les.get("volume_ml"), 2), _num(les.get("max_diameter_mm")),
            _e(breakthrough_text(les.get("cortical_breakthrough"))),
            _e(mirels_text(les.get("mirels"))), _e(fracture_risk_text(les.get("fracture_risk"))))) + "</tr>")
    return rows


def _cement_rows(report) -> list:
    rows = []
    for c in report.get("cement", []):
        fill_s = _e(fill_text(c.get("lesion_fill_fraction")))
        risk = c.get("leak_risk") or {}
        reasons = _e(leak_reasons_text(risk))
        at_risk = risk.get("at_risk")
        style = f' style="{BREACH_ROW_STYLE}"' if at_risk else ""
        rows.append(f"<tr{style}>" + "".join(f"<td>{x}</td>" for x in (
            _e(c.get("name")), _num(c.get("volume_ml"), 2), fill_s,
            _e(leak_text(risk)), reasons or "—")) + "</tr>")
    return rows


def render_html(report: dict, images: dict | None = None) -> str:
    """The report's HTML text (self-contained)."""
    images = images or {}
    geo = (report.get("ct") or {}).get("geometry") or {}
    title = f"Percutaneous osteosynthesis plan — {report.get('case_id') or report.get('plan') or ''}".rstrip(" —")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{_e(title)}</h1>"]
    summary = [("Case", report.get("case_id") or report.get("plan") or "—"), ("Created", report.get("created", "—")),
               ("Software", report.get("software", "—")),
               ("Coordinates", f"{report.get('coordinate_system', 'LPS')} ({report.get('units', 'mm')}): x = patient left, "
                               "y = posterior, z = superior"),
               ("Safety margin", _num(report.get("margin_mm"), 1, " mm")),
               ("CT", (report.get("ct") or {}).get("path", "—")), ("CT sha256", (report.get("ct") or {}).get("sha256") or "—"),
               ("CT grid", f"{geo.get('size', '—')} voxels, spacing {geo.get('spacing_mm', '—')} mm, origin {geo.get('origin_lps', '—')} LPS")]
    parts.append("<h2>Summary</h2><table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary) + "</table>")
    screws = report.get("screws", [])
    parts.append("<h2>Screws</h2>" + _table(SCREW_COLUMNS, [_screw_row(e) for e in screws]))
    parts.append('<p class="note">Grades: excellent = clearance ≥ margin all along; acceptable = ≥ 0; breach = the screw '
                 "leaves the bone (clearance &lt; 0). Skin entry in LPS mm; angles as computed by the guidance module.</p>")
    if report.get("pairs"):
        parts.append("<h3>Screw pairs</h3>" + _table(("Screw A", "Screw B", "Min gap (mm)"), [
            f"<tr><td>{_e(p.get('a'))}</td><td>{_e(p.get('b'))}</td><td>{_num(p.get('min_gap_mm'))}</td></tr>" for p in report["pairs"]]))
    necks = [m for m in report.get("femoral_neck", []) if "error" not in m]
    if necks:
        rows = []
        for m in necks:
            rows.append(f"<tr><td>{_e(m['side'])}</td><td>{_e(', '.join(m['screws']))}</td><td>{_num(m.get('max_angle_deg'))}</td>"
                        f"<td>{_num(m.get('max_distance_mm'))}</td><td>{_e(fmt.tip_apex_text(m))}</td>"
                        f"<td>{_e(fmt.neck_configuration_text(m))}</td></tr>")
        parts.append("<h3>Femoral neck screw sets</h3>" + _table(
            ("Side", "Screws", "Max angle between screws (°)", "Spread (mm)", "Tip-apex distance (mm)", "Configuration"), rows))
    for w in report.get("warnings", []):
        parts.append(f'<p class="note">⚠ {_e(w)}</p>')
    plots = images.get("plots", {})
    if plots:
        parts.append("<h2>Clearance along each screw</h2><div class=\"grid\">" + "".join(
            f"<figure>{_img(plots[e['name']], 'clearance plot ' + e['name'], 640)}<figcaption>{_e(e['name'])}</figcaption></figure>"
            for e in screws if e["name"] in plots) + "</div>")
    views = images.get("views", {})
    if views:
        parts.append("<h2>3D views</h2><div class=\"grid\">" + "".join(
            f"<figure>{_img(v, view + ' view', 640)}<figcaption>{_e(view)}: {_e(_view_note(view, _tilts(report)))}</figcaption></figure>"
            for view, v in views.items()) + "</div>")
    probes = images.get("probes", {})
    if probes:
        parts.append("<h2>Probe's-eye slices (entry, middle, tip, along the screw)</h2>" + "".join(
            f"<figure>{_img(probes[e['name']], 'probe view ' + e['name'], 1300)}<figcaption>{_e(e['name'])}: screw outline in "
            "its grade colour, cortex outline in cyan; letters give the image edges' directions.</figcaption></figure>"
            for e in screws if e["name"] in probes))
    if report.get("lesions"):
        parts.append("<h2>Lesions</h2>" + _table(("Lesion", "Type", "Volume (mL)", "Max diameter (mm)", "Cortical breakthrough",
                                                 "Mirels", "Fracture risk"), _lesion_rows(report)))
    if report.get("cement"):
        parts.append("<h2>Cement</h2>" + _table(("Injection", "Volume (mL)", "Lesion fill", "Leakage risk", "Reasons"),
                                                _cement_rows(report)))
    for n in images.get("notes", []):
        parts.append(f'<p class="note">{_e(n)}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report_html(report: dict, out_path, images: dict | None = None, bone=None, ct=None) -> Path:
    """Write the self-contained HTML report atomically; pictures built with :func:`build_report_images` when
    ``images`` is None."""
    if images is None:
        images = build_report_images(report, bone, ct)
    return write_text_atomic(out_path, render_html(report, images))


def _read_surface(path: Path):
    import vtk

    r = vtk.vtkPolyDataReader()
    r.SetFileName(str(path))
    r.Update()
    poly = r.GetOutput()
    if poly is None or poly.GetNumberOfPoints() == 0:
        raise PosteoInputError(path, "not a readable VTK polydata surface")
    return poly


def _plan_segments(segs: dict, report: dict):
    """The report's lesion and cement masks ``(name, mask, geometry)`` among the folder's segments (``segs``: as
    ``fileio.segmentation.read_segmentation`` returns them)."""
    pick = lambda names: [(n, segs[n][0], segs[n][1]) for n in names if n in segs and segs[n][0].any()]  # noqa: E731
    return pick([x["name"] for x in report.get("lesions", [])]), pick([x["name"] for x in report.get("cement", [])])


def _plan_bone_surface(segs: dict):
    """The surface (LPS) of the bone and joint segments among the folder's segments, or None."""
    if "bone" not in segs or not segs["bone"][0].any():
        return None
    from ..bone.surface import mask_surface_lps

    mask, geometry = segs["bone"]
    if "sacroiliac joint" in segs and segs["sacroiliac joint"][0].shape == mask.shape:
        mask = mask | segs["sacroiliac joint"][0]
    return mask_surface_lps(mask, geometry)


def write_report(plan_dir, report: dict | None = None, bone=None, ct=None, pdf: bool = True) -> Path:
    """Write ``report.html`` (and ``report.pdf`` when fpdf2 is installed and ``pdf``) in the plan folder.

    ``plan_dir``: the plan folder, or the path of the ``.html`` to write (its folder is then the plan folder).
    ``report``: read from ``report.json`` when None; ``bone``: BoneModel or surface, else ``bone_surface.vtk``
    from the folder when present, else the bone segment of its ``plan.seg.nrrd``.  Returns the HTML path.
    """
    p = Path(plan_dir)
    out_html = p if p.suffix.lower() in (".html", ".htm") else p / "report.html"
    folder = out_html.parent
    if report is None:
        from .json_report import read_report

        src = folder / "report.json"
        if not src.exists():
            raise PosteoInputError(src, "report.json not found in the plan folder")
        report = read_report(src)
    if bone is None and (folder / "bone_surface.vtk").exists():
        bone = _read_surface(folder / "bone_surface.vtk")
    segs = {}  # plan.seg.nrrd (Slicer's reader), read once: the bone when none was given, the lesions and cement
    if (folder / "plan.seg.nrrd").exists() and (bone is None or report.get("lesions") or report.get("cement")):
        from ..fileio.segmentation import read_segmentation

        segs = read_segmentation(folder / "plan.seg.nrrd")
    if bone is None:
        bone = _plan_bone_surface(segs)
    if ct is None and Path(str(report.get("ct", {}).get("path", ""))).is_file():
        from ..fileio.volume import read_ct

        ct = read_ct(report["ct"]["path"])  # for the probe's-eye slices
    lesion_masks, cement_masks = _plan_segments(segs, report)
    images = build_report_images(report, bone, ct, lesion_masks=lesion_masks, cement_masks=cement_masks)
    write_report_html(report, out_html, images)
    if pdf:
        try:
            from .pdf_report import write_report_pdf
        except ImportError:  # fpdf2 not installed
            return out_html
        write_report_pdf(report, out_html.with_suffix(".pdf"), images)
    return out_html
