"""``corridors.html``: the corridors found on a CT, as one self-contained page: a table (width, proposed screw,
clearance, grade, guidance, or why there is no safe corridor) and the proposed screws drawn on the bone in the AP,
inlet, outlet and lateral views (inlet/outlet fitted to the sacrum). All coordinates are LPS mm.
"""

from __future__ import annotations

from pathlib import Path

from ..fileio.atomic import write_text_atomic
from .format import gantry_tilt_text
from .html_report import CSS, GRADE_STYLE, VIEWS, _e, _img, _num, _table, _vec, _view_note

COLUMNS = ("Pathway", "Side", "Width (mm)", "Screw (Ø × length, mm)", "Implant", "Min clearance (mm)", "Grade",
           "Entry (LPS)", "Tip (LPS)", "Depth skin→bone (mm)", "Gantry tilt (°)", "No safe corridor: why")


def _row(c: dict) -> str:
    g = c.get("guidance") or {}
    grade = c.get("grade")
    cells = [_e(c["name"]), _e(c.get("side") or "both"), _num(c.get("width_mm")),
             f"{_num(c.get('diameter_mm'))} × {_num(c.get('length_mm'), 0)}" if c.get("found") else "—",
             _e(c.get("implant_id") or "—"), _num(c.get("min_clearance_mm"), 2),
             None, _vec(c.get("entry_lps")) if c.get("found") else "—", _vec(c.get("tip_lps")) if c.get("found") else "—",
             _num(g.get("skin_to_bone_entry_mm")), _e(gantry_tilt_text(g, _num)), _e(c.get("reason") or "")]
    tds = [f'<td style="{GRADE_STYLE.get(grade, "")}">{_e(grade or "no safe corridor")}</td>' if v is None else f"<td>{v}</td>"
           for v in cells]
    row = "<tr>" + "".join(tds) + "</tr>"
    t = c.get("triad") if c.get("found") else None
    if t is not None:
        row += _triad_row(c, t)
    return row


def _triad_row(c: dict, t: dict) -> str:
    """The femoral-neck triad under its corridor: three parallel screws, their spread and the worst grade."""
    screws = t.get("screws") or []
    grade = t.get("grade") if t.get("found") else None
    cells = [_e(f"{c['name']} triad"), _e(c.get("side") or ""), "—",
             f"3 × {_num(screws[0]['diameter_mm'])} × {'/'.join(_num(s['length_mm'], 0) for s in screws)}, "
             f"{_num(t.get('spread_mm'))} apart" if t.get("found") else "—",
             _e(", ".join(s["implant_id"] for s in screws) or "—"),
             _num(min((s["min_clearance_mm"] for s in screws), default=None), 2), None,
             "<br>".join(_vec(s["entry_lps"]) for s in screws) or "—", "<br>".join(_vec(s["tip_lps"]) for s in screws) or "—",
             "—", "—", _e(t.get("reason") or "")]
    tds = [f'<td style="{GRADE_STYLE.get(grade, "")}">{_e(grade or "no safe triad")}</td>' if v is None else f"<td>{v}</td>"
           for v in cells]
    return "<tr>" + "".join(tds) + "</tr>"


def corridor_images(corridors, bone, tilts: dict) -> dict:
    """{view: RGB array} of the proposed screws on the bone surface."""
    from .render import render_views

    screws = [(c.screw(), c.grade) for c in corridors if c.found]
    screws += [(s, k.grade) for c in corridors if c.found and c.triad is not None and c.triad.found
               for s, k in zip(c.triad.screws, c.triad.checks)]
    return render_views(bone.pelvis_surface_polydata_lps(), screws, views=VIEWS, tilts=tilts)


def render_corridors_html(doc: dict, images: dict, tilts: dict) -> str:
    title = "Osseous fixation pathways"
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style>'
             f"</head><body><h1>{title}</h1>",
             f"<p class=\"note\">CT {_e(doc['ct'].get('source') or '—')}; safety margin {_num(doc['margin_mm'])} mm; "
             "coordinates LPS mm (x = patient left, y = posterior, z = superior). Width: twice the narrowest distance "
             "from the corridor's axis to the bone or a no-go structure; the screw is the largest catalog screw leaving "
             "the margin all round, checked like any planned screw.</p>",
             _table(COLUMNS, [_row(c) for c in doc["corridors"]]), '<div class="grid">']
    for view in VIEWS:
        if view in images:
            parts.append(f"<figure>{_img(images[view], view, 420)}<figcaption>{_e(view)}: {_e(_view_note(view, tilts))}"
                         "</figcaption></figure>")
    parts.append("</div></body></html>")
    return "\n".join(parts)


def write_corridors_html(path, doc: dict, corridors, bone) -> Path:
    """Render the views and write the page atomically."""
    from ..bone.pelvic_views import fitted_inlet_outlet_deg

    tilts = fitted_inlet_outlet_deg(bone)
    images = corridor_images(corridors, bone, tilts) if any(c.found for c in corridors) else {}
    return write_text_atomic(path, render_corridors_html(doc, images, tilts))
