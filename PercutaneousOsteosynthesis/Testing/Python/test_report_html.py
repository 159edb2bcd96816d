"""The HTML (and PDF) plan report: one table row per screw, breach rows red, every embedded image decodes to a
non-blank picture, the breach shaded in its clearance plot, and headless Chromium renders the page."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from PercutaneousOsteosynthesisLib.report.html_report import build_report_images, write_report, write_report_html

CHROMIUM = Path("/usr/bin/chromium")
MARGIN = 1.0


def report_from_truth(truth: dict, anatomy, margin: float = MARGIN) -> dict:
    """A report dict built independently of the checking code: the phantom's truth screw paths with clearance
    profiles from the analytic envelope (clearance = depth of the axis point - radius)."""
    screws = []
    for n, p in enumerate(truth["screw_paths"]):
        entry, tip = np.array(p["entry_lps"]), np.array(p["tip_lps"])
        length = float(np.linalg.norm(tip - entry))
        s = np.linspace(0.0, length, int(length / 0.5) + 1)
        pts = entry + s[:, None] * (tip - entry) / length
        c = -anatomy.envelope_sdf(pts) - p["diameter_mm"] / 2
        cmin = float(c.min())
        grade = "excellent" if cmin >= margin else ("acceptable" if cmin >= 0 else "breach")
        screws.append({
            "name": p["name"], "implant_id": f"cannulated-{p['diameter_mm']}", "diameter_mm": p["diameter_mm"],
            "length_mm": length, "thread_length_mm": 16.0, "entry_lps": entry.tolist(), "tip_lps": tip.tolist(),
            "min_clearance_mm": cmin, "min_clearance_at_mm": float(s[np.argmin(c)]),
            "breach_length_mm": float((c < 0).sum() * 0.5), "bone_fraction": float((c > -p["diameter_mm"] / 2).mean()),
            "grade": grade, "tip_protrusion_mm": 0.0, "tip_in_joint": False, "joints_crossed": int("iliosacral" in p["name"]),
            "metal_clearance_mm": None, "profile": {"s_mm": s.round(3).tolist(), "clearance_mm": c.round(3).tolist()},
            "skin_entry_lps": (entry - 40.0 * (tip - entry) / length).tolist(), "skin_to_bone_entry_mm": 40.0,
            "skin_to_tip_mm": 40.0 + length, "gantry_tilt_deg": 5.0 * n, "double_oblique": n == 2,
            "inplane_angle_deg": 30.0 + n, "table_position_mm": -20.0 - n, "table_slice_index": 100 + n,
            "carm_cranio_caudal_deg": 10.0, "carm_lao_rao_deg": -15.0,
            "anchorage_beyond_lesion_mm": 12.5 if n == 2 else None})
    lesions = [{"name": l["name"], "volume_ml": l["volume_ml"], "max_diameter_mm": 2 * l["radius_mm"], "type": "lytic",
                "cortical_breakthrough": l["breaks_cortex"], "mirels": {"total": 8, "reading": "borderline: clinical judgement"}}
               for l in truth["lesions"]]
    cement = [{"name": "cement left", "volume_ml": 3.0, "lesion_fill_fraction": {lesions[0]["name"]: 0.8},
               "leak_risk": {"at_risk": True, "reasons": [{"kind": "cortical_defect", "distance_mm": 1.5}]}}]
    return {"@schema": "https://percutaneous-osteosynthesis.org/schema/report-v1.json", "format_version": 1,
            "software": "PercutaneousOsteosynthesis test", "coordinate_system": "LPS", "units": "mm",
            "created": "2026-01-01T00:00:00+00:00", "case_id": "phantom-case",
            "ct": {"path": "<phantom>", "sha256": "", "geometry": truth["grid"]}, "margin_mm": margin, "screws": screws,
            "pairs": [{"a": screws[0]["name"], "b": screws[1]["name"], "min_gap_mm": 30.0}], "bone": {"volumes": {}},
            "lesions": lesions, "cement": cement}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.imgs, self._tr = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._tr = {"class": a.get("class", ""), "style": a.get("style", ""), "cells": []}
            self.rows.append(self._tr)
        elif tag == "td" and self._tr is not None:
            self._tr["cells"].append({"class": a.get("class", ""), "style": a.get("style", ""), "text": ""})
        elif tag == "img":
            self.imgs.append(a)

    def handle_data(self, data):
        if self._tr is not None and self._tr["cells"]:
            self._tr["cells"][-1]["text"] += data


def _decode(src: str) -> np.ndarray:
    assert src.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def _red(rgb):
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (r > 200) & (r - g > 60) & (r - b > 60) & (abs(g - b) < 30)  # red, or red shading on white (not orange)


def _non_blank(rgb) -> bool:
    return rgb.reshape(-1, 3).std(axis=0).max() > 10 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20


@pytest.fixture(scope="module")
def report_and_html(phantom, phantom_bone, anatomy, tmp_path_factory):
    ct, truth = phantom
    report = report_from_truth(truth, anatomy)
    out = tmp_path_factory.mktemp("report")
    images = build_report_images(report, phantom_bone, ct, size=(400, 400))
    path = write_report_html(report, out / "report.html", images)
    return report, path, images


def test_truth_report_has_a_breach_and_a_safe_screw(report_and_html):
    grades = [s["grade"] for s in report_and_html[0]["screws"]]
    assert "breach" in grades and "excellent" in grades


def test_one_row_per_screw_breach_rows_red(report_and_html):
    report, path, _ = report_and_html
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    rows = [r for r in page.rows if "screw" in r["class"].split()]
    assert [r["cells"][0]["text"] for r in rows] == [s["name"] for s in report["screws"]]
    for r, s in zip(rows, report["screws"]):
        grade_cell = next(c for c in r["cells"] if "grade" in c["class"].split())
        assert grade_cell["text"] == s["grade"]
        if s["grade"] == "breach":
            assert "#e00000" in grade_cell["style"] and "background" in r["style"]
        else:
            assert "#e00000" not in grade_cell["style"] and r["style"] == ""
    # anchorage beyond the lesion shown where present
    anch = [r for r, s in zip(rows, report["screws"]) if s["anchorage_beyond_lesion_mm"] is not None]
    assert any(c["text"] == "12.5" for c in anch[0]["cells"])


def test_every_image_decodes_non_blank(report_and_html):
    report, path, images = report_and_html
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    n = len(report["screws"])
    assert len(page.imgs) == n + 4 + n  # plots, AP/lateral/inlet/outlet, probe figures
    for img in page.imgs:
        assert _non_blank(_decode(img["src"])), img["alt"]
    assert "<script" not in path.read_text(encoding="utf-8") and "http://" not in path.read_text(encoding="utf-8")


def test_breach_shaded_in_its_plot_only(report_and_html):
    report, path, _ = report_and_html
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    plots = {i["alt"][len("clearance plot "):]: _decode(i["src"]) for i in page.imgs if i["alt"].startswith("clearance plot ")}
    for s in report["screws"]:
        red = _red(plots[s["name"]]).sum()
        if s["grade"] == "breach" and s["breach_length_mm"] > 1.0:
            assert red > 200, s["name"]
        elif s["grade"] != "breach":
            assert red == 0, s["name"]


def test_plot_shades_the_breach_x_range():
    """A profile breaching on [20, 30] mm of a 50 mm screw: red columns span that part of the axes box."""
    from PercutaneousOsteosynthesisLib.report.plots import clearance_plot_png

    s = np.linspace(0.0, 50.0, 501)
    c = np.where((s > 20.0) & (s < 30.0), -1.5, 3.0)
    img = np.asarray(Image.open(io.BytesIO(clearance_plot_png(s, c, 1.0, "x"))).convert("RGB"))
    dark = np.all(img < 60, axis=2).sum(axis=0)
    spines = np.nonzero(dark > 0.5 * dark.max())[0]
    x0, x1 = spines.min(), spines.max()  # the axes box's left and right edges (x = 0 and x = 50 mm)
    cols = np.nonzero(_red(img).sum(axis=0) > 10)[0]
    def to_mm(col):
        return 50.0 * (col - x0) / (x1 - x0)
    assert abs(to_mm(cols.min()) - 20.0) < 1.0 and abs(to_mm(cols.max()) - 30.0) < 1.0


def test_lesion_and_cement_tables(report_and_html):
    text = report_and_html[1].read_text(encoding="utf-8")
    for les in report_and_html[0]["lesions"]:
        assert les["name"] in text
    assert "AT RISK" in text and "cortical_defect at 1.5 mm" in text


def test_chromium_renders_the_report(report_and_html, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    path = report_and_html[1]
    png = tmp_path / "shot.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1400,2400",
           "--hide-scrollbars", path.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    shot = np.asarray(Image.open(png).convert("RGB"))
    assert shot.shape[:2] == (2400, 1400)
    assert _non_blank(shot)
    assert _red(shot).sum() > 100  # the breach grade cells


def test_write_report_from_folder(report_and_html, phantom_bone, tmp_path):
    """write_report reads report.json (and bone_surface.vtk) from the folder; also accepts the .html path."""
    from PercutaneousOsteosynthesisLib.bone.outputs import write_polydata

    report = report_and_html[0]
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    write_polydata(tmp_path / "bone_surface.vtk", phantom_bone.surface_polydata_lps())
    html_path = write_report(tmp_path)
    assert html_path == tmp_path / "report.html"
    page = _Page()
    page.feed(html_path.read_text(encoding="utf-8"))
    assert sum(1 for i in page.imgs if i["alt"].endswith(" view")) == 4
    assert "need the CT" in html_path.read_text(encoding="utf-8")
    assert write_report(tmp_path / "other.html", report=report, pdf=False) == tmp_path / "other.html"
    try:
        import fpdf  # noqa: F401
    except ImportError:
        return
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
                       check=True, timeout=60)
        page1 = next(tmp_path.glob("page*.png"))
        assert _non_blank(np.asarray(Image.open(page1).convert("RGB")))


def test_corridors_page_marks_a_tilt_beyond_the_gantry_range():
    """A near-transverse iliosacral screw needs a 49° tilt to lie in one slice: the corridors page says that the
    scanner cannot tilt that far (double oblique), as the plan report does."""
    from PercutaneousOsteosynthesisLib.report.corridors_html import render_corridors_html

    corridor = {"name": "S1 iliosacral", "side": "left", "found": True, "width_mm": 8.8, "diameter_mm": 6.5,
                "length_mm": 80.0, "implant_id": "CS-6.5-T16-080", "min_clearance_mm": 0.98, "grade": "acceptable",
                "entry_lps": [343.6, 299.4, 467.6], "tip_lps": [264.8, 290.7, 477.6], "reason": "",
                "guidance": {"skin_to_bone_entry_mm": 112.8, "gantry_tilt_deg": -48.9, "double_oblique": True}}
    flat = dict(corridor, side="right", guidance={"skin_to_bone_entry_mm": 90.0, "gantry_tilt_deg": 12.0,
                                                   "double_oblique": False})
    page = _Page()
    page.feed(render_corridors_html({"ct": {"source": "ct.nii.gz"}, "margin_mm": 1.0, "corridors": [corridor, flat]}, {}, {}))
    cells = [[c["text"] for c in r["cells"]] for r in page.rows if r["cells"] and r["cells"][0]["text"] == "S1 iliosacral"]
    assert len(cells) == 2 and "-48.9 (double oblique)" in cells[0] and "12.0" in cells[1]
    assert not any("double oblique" in c for c in cells[1])
