"""``posteo demo`` end to end: the bundle, the screw grades against the phantom's truth, and its report.html
rendered in headless Chromium (when Debian's chromium is installed, as .ci/run does)."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image
from test_report_html import CHROMIUM, _decode, _non_blank, _Page, _red

from PercutaneousOsteosynthesisLib.cli.main import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["-q", "demo", "--out", str(out)]) == 0
    return out


def test_demo_bundle_and_grades(demo_dir):
    from PercutaneousOsteosynthesisLib.plan.markups import load_plan

    for name in ("phantom.nrrd", "phantom.truth.json", "plan.mrk.json", "plan.seg.nrrd", "report.json", "report.html", "bone.json"):
        assert (demo_dir / name).stat().st_size > 0, name
    rep = json.loads((demo_dir / "report.json").read_text())
    grades = {s["name"]: s["grade"] for s in rep["screws"]}
    assert len(grades) == 5
    assert grades.pop("supra-acetabular left (too low)") == "breach"  # the truth path into the hip joint
    assert all(g != "breach" for g in grades.values())
    assert rep["suggestions"]["supra-acetabular left (too low)"], "a correction is suggested"
    assert all(s["grade"] != "breach" for s in rep["suggestions"]["supra-acetabular left (too low)"])
    assert [l["cortical_breakthrough"] for l in rep["lesions"]] == [False, True]
    assert [c["leak_risk"]["at_risk"] for c in rep["cement"]] == [False, True]
    (neck,) = rep["femoral_neck"]
    assert neck["side"] == "left" and neck["max_angle_deg"] < 1e-6 and len(neck["tip_apex_distance_mm"]) == 2
    plan = load_plan(demo_dir / "plan.mrk.json")
    assert [s.name for s in plan.screws] == [s["name"] for s in rep["screws"]]


def test_demo_report_in_chromium(demo_dir, tmp_path):
    rep = json.loads((demo_dir / "report.json").read_text())
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    rows = [r for r in page.rows if "screw" in r["class"].split()]
    assert [r["cells"][0]["text"] for r in rows] == [s["name"] for s in rep["screws"]]
    assert len(page.imgs) >= 5 + 4 and all(_non_blank(_decode(img["src"])) for img in page.imgs)
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    png = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1400,3000",
                    "--hide-scrollbars", (demo_dir / "report.html").resolve().as_uri()], check=True, capture_output=True, timeout=180)
    shot = np.asarray(Image.open(png).convert("RGB"))
    assert _non_blank(shot) and _red(shot).sum() > 100  # tables, pictures, and the breach in red
