"""The plan report as a PDF (``report.pdf``, fpdf2, no browser): summary, screw and lesion/cement tables and the
pictures of :func:`report_html.build_report_images`.  Text is limited to Latin-1 (the PDF core fonts)."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF

from ..fileio.atomic import atomic_path
from ..palette import GRADE_RGB, rgb255
from .format import breakthrough_text, fracture_risk_text, leak_reasons_text, leak_text, mirels_text, perforation_text

REPLACE = {"—": "-", "Ø": "diam.", "°": " deg", "→": "->", "≥": ">=", "≤": "<=", "⚠": "!", "’": "'"}


def _t(v) -> str:
    s = "-" if v is None else str(v)
    for a, b in REPLACE.items():
        s = s.replace(a, b)
    return s.encode("latin-1", "replace").decode("latin-1")


def _f(v, nd=1) -> str:
    return "-" if not isinstance(v, (int, float)) or isinstance(v, bool) else f"{v:.{nd}f}"


class _Doc(FPDF):
    def header(self):
        self.set_font("helvetica", "I", 8)
        self.cell(0, 5, _t("PercutaneousOsteosynthesis plan report - coordinates LPS mm"), align="R")
        self.ln(6)


def _table(pdf: FPDF, head, rows, widths, fills=None):
    pdf.set_font("helvetica", "B", 7)
    pdf.set_fill_color(232, 232, 238)
    for h, w in zip(head, widths):
        pdf.cell(w, 5, _t(h), border=1, fill=True)
    pdf.ln()
    pdf.set_font("helvetica", "", 7)
    for n, row in enumerate(rows):
        for c, (v, w) in enumerate(zip(row, widths)):
            fill = fills(n, c) if fills else None
            if fill:
                pdf.set_fill_color(*fill)
            pdf.cell(w, 5, _t(v)[: int(w / 1.3)], border=1, fill=bool(fill))
        pdf.ln()


def _image(pdf: FPDF, png: bytes, w: float):
    if pdf.get_y() + 20 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.image(io.BytesIO(png), w=w)


def write_report_pdf(report: dict, out_path, images: dict | None = None) -> Path:
    """Write the PDF report atomically and return its path."""
    images = images or {}
    pdf = _Doc(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(True, 12)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, _t(f"Percutaneous osteosynthesis plan - {report.get('case_id') or report.get('plan') or ''}"))
    pdf.ln(10)
    pdf.set_font("helvetica", "", 9)
    geo = (report.get("ct") or {}).get("geometry") or {}
    for k, v in (("Created", report.get("created")), ("Software", report.get("software")),
                 ("Coordinates", f"{report.get('coordinate_system', 'LPS')} {report.get('units', 'mm')} (x left, y posterior, z superior)"),
                 ("Safety margin (mm)", report.get("margin_mm")), ("CT", (report.get("ct") or {}).get("path")),
                 ("CT grid", f"{geo.get('size')} voxels, spacing {geo.get('spacing_mm')} mm")):
        pdf.cell(0, 5, _t(f"{k}: {v}"))
        pdf.ln()
    pdf.ln(3)
    screws = report.get("screws", [])
    head = ("Screw", "Implant", "Len", "Min clear. [at]", "Breach", "Grade", "Perf.", "Anchorage", "Skin entry (LPS)", "Depth bone/tip",
            "Gantry", "In-plane", "Table [slice]", "C-arm CC/LAO; progr.")
    rows = []
    for e in screws:
        se = e.get("skin_entry_lps")
        rows.append((e.get("name"), e.get("implant_id"), _f(e.get("length_mm")),
                     f"{_f(e.get('min_clearance_mm'), 2)} [{_f(e.get('min_clearance_at_mm'))}]", _f(e.get("breach_length_mm")),
                     e.get("grade"), perforation_text(e.get("perforation_grade")), _f(e.get("anchorage_beyond_lesion_mm")),
                     "-" if se is None else "(" + ", ".join(_f(x) for x in se) + ")",
                     f"{_f(e.get('skin_to_bone_entry_mm'))}/{_f(e.get('skin_to_tip_mm'))}", _f(e.get("gantry_tilt_deg")),
                     _f(e.get("inplane_angle_deg")), f"{_f(e.get('table_position_mm'))} [{e.get('table_slice_index', '-')}]",
                     f"{_f(e.get('carm_cranio_caudal_deg'))}/{_f(e.get('carm_lao_rao_deg'))}; {_f(e.get('carm_progress_lao_rao_deg'))}"))
    widths = (44, 22, 10, 22, 12, 17, 9, 14, 34, 20, 13, 14, 24, 22)
    _table(pdf, head, rows, widths, lambda n, c: (rgb255(GRADE_RGB[screws[n]["grade"]]) if screws[n].get("grade") in GRADE_RGB else None) if c == 5 else None)
    if report.get("lesions"):
        pdf.ln(3)
        _table(pdf, ("Lesion", "Type", "Volume (mL)", "Max diam. (mm)", "Breakthrough", "Mirels", "Fracture risk"),
               [(l.get("name"), l.get("type"), _f(l.get("volume_ml"), 2), _f(l.get("max_diameter_mm")), breakthrough_text(l.get("cortical_breakthrough")),
                 mirels_text(l.get("mirels")), fracture_risk_text(l.get("fracture_risk")))
                for l in report["lesions"]], (50, 20, 22, 25, 25, 45, 80))
    if report.get("cement"):
        pdf.ln(3)
        _table(pdf, ("Cement", "Volume (mL)", "Leak risk", "Reasons"),
               [(c.get("name"), _f(c.get("volume_ml"), 2), leak_text(c.get("leak_risk")), leak_reasons_text(c.get("leak_risk")))
                for c in report["cement"]], (60, 25, 25, 150))
    for _name, png in images.get("plots", {}).items():
        _image(pdf, png, 130)
    views = images.get("views", {})
    if views:
        pdf.add_page()
        x0, y0 = pdf.get_x(), pdf.get_y()
        for n, png in enumerate(views.values()):
            pdf.image(io.BytesIO(png), x=x0 + (n % 4) * 68, y=y0, w=66)
        pdf.set_y(y0 + 70)
    for _name, png in images.get("probes", {}).items():
        _image(pdf, png, 270)
    with atomic_path(out_path) as tmp:
        pdf.output(str(tmp))
    return Path(out_path)
