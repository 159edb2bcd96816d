"""The web planner (``posteo serve``) driven in Debian's Chromium by Playwright, as a radiologist would use it: the
phantom is opened, the bone model built, a screw placed by two clicks where the phantom's exact geometry says the
bone is wide, then dragged out of the bone; the table must follow the truth, and the saved plan must hold the
clicked points (read back with the plan reader).  Bad input must give a visible message, never a dead page."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from web_driver import CHROMIUM, SAFE_DEPTH_MM, PlannerPage, PlannerServer, deep_bone_segment, launch, segment_clearance, soft_tissue_pixel

from PercutaneousOsteosynthesisLib.palette import BREACH_ROW_RGB, GRADE_RGB, rgb255

pytest.importorskip("PercutaneousOsteosynthesisWeb.app", reason="the web extra is not installed")  # .ci/run installs it
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")



@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    tmp = tmp_path_factory.mktemp("web")
    with PlannerServer(["--phantom"], tmp / "out", tmp / "server.log") as server, playwright_api.sync_playwright() as p:
        browser, page = launch(p)
        page.goto(server.url)
        planner = PlannerPage(page)
        try:
            planner.wait_status("CT PelvisPhantom", timeout_s=120)
            page.click("#po-build-bone")
            planner.wait_status("Bone model", timeout_s=240)
            yield planner, server, tmp
        except Exception:
            print(server.log_tail())
            raise
        finally:
            browser.close()


def _css_rgb(rgb) -> str:
    r, g, b = rgb255(rgb)
    return f"rgb({r}, {g}, {b})"


def test_place_drag_and_save_a_screw_in_the_browser(browser_page, anatomy):
    from PercutaneousOsteosynthesisLib.plan.markups import load_plan

    planner, server, tmp = browser_page
    box = planner.axial_box()
    to_lps = planner.pixel_to_lps()
    entry_xy, tip_xy = deep_bone_segment(anatomy, to_lps, box)
    assert segment_clearance(anatomy, to_lps(*entry_xy), to_lps(*tip_xy)) >= SAFE_DEPTH_MM

    planner.place_screw(entry_xy, tip_xy)
    row = planner.wait_row("screws", "Screw 1")
    assert row["grade"] in ("excellent", "acceptable"), row  # the truth says deep bone all along
    assert float(row["cells"][4]) >= 1.0  # min clearance (mm) at least the margin

    out_xy = soft_tissue_pixel(anatomy, to_lps, box, tip_xy)
    delays = planner.drag(tip_xy, out_xy)
    row = planner.wait_row("screws", "Screw 1", grade="breach")  # the truth: the tip now lies in soft tissue
    assert float(row["cells"][4]) < 0.0
    assert row["bg"] == _css_rgb(BREACH_ROW_RGB)
    assert row["cellBgs"][5] == _css_rgb(GRADE_RGB["breach"])
    print(f"drag: event to repaint {np.median(delays):.0f} ms median, {max(delays):.0f} ms max over {len(delays)} moves")

    planner.page.click("#po-save")
    planner.page.wait_for_function("() => document.querySelector('#po-saved').innerText.includes('plan.mrk.json')")
    plan = load_plan(tmp / "out" / "plan.mrk.json")
    (screw,) = plan.screws
    assert screw.name == "Screw 1"
    mm_per_pixel = float(np.linalg.norm(to_lps(1.0, 0.0) - to_lps(0.0, 0.0)))
    assert np.linalg.norm(screw.entry_lps - to_lps(*entry_xy)) < 2.0 * mm_per_pixel + 0.5
    assert np.linalg.norm(screw.tip_lps - to_lps(*out_xy)) < 2.0 * mm_per_pixel + 0.5
    report = json.loads((tmp / "out" / "report.json").read_text())
    assert [s["grade"] for s in report["screws"]] == ["breach"]
    # open the saved plan again after removing the screw: the same screw, the same grade
    planner.page.click('[data-table="screws"] tr.po-row[data-key="Screw 1"] button')
    planner.page.wait_for_function("() => !document.querySelector('[data-table=\"screws\"] tr.po-row')")
    planner.page.set_input_files("#po-plan-file", str(tmp / "out" / "plan.mrk.json"))
    row = planner.wait_row("screws", "Screw 1", grade="breach")
    assert float(row["cells"][4]) < 0.0

    shot = tmp / "web_planner.png"
    planner.page.screenshot(path=str(shot))
    shutil.copyfile(shot, tmp / "out" / "web_planner.png")


def test_lesion_seed_and_cement_in_the_browser(browser_page, anatomy):
    """A click on the phantom's contained lytic lesion segments it (truth: a 9 mm sphere, 3.05 mL); cement placed at
    its centre is simulated at the volume typed in."""
    planner, server, tmp = browser_page
    page = planner.page
    lesion = next(les for les in anatomy.lesions if not les.breaks_cortex)
    x, y = planner.go_to_lps(lesion.center)
    page.click("#po-place-lesion")
    planner.click_view(x, y)
    row = planner.wait_row("lesions", "Lesion 1", timeout_s=60)
    truth_ml = 4.0 / 3.0 * np.pi * lesion.radius**3 / 1000.0
    assert abs(float(row["cells"][1]) - truth_ml) <= 0.2 * truth_ml, (row, truth_ml)

    page.get_by_label("Cement (mL)").fill("2")
    page.click("#po-place-cement")
    planner.click_view(x, y)
    row = planner.wait_row("cement", "Cement 1", timeout_s=60)
    assert abs(float(row["cells"][1]) - 2.0) <= 0.1, row
    assert row["cells"][2] not in ("", "0 %"), row  # some of the lesion is filled


def test_bad_input_in_the_browser_gives_a_message(browser_page, tmp_path):
    planner, server, tmp = browser_page
    page = planner.page
    not_ct = tmp_path / "notes.nii.gz"
    not_ct.write_text("this is not an image")
    page.set_input_files("#po-ct-file", str(not_ct))
    page.wait_for_selector("#po-error", timeout=30e3)
    assert "notes.nii.gz" in planner.error()
    assert planner.rows("screws"), "the plan is kept after a refused file"
    page.click("#po-error .v-alert__close button")  # the message is dismissed, the page goes on
    page.wait_for_selector("#po-error", state="detached", timeout=10e3)

    box = planner.axial_box()
    to_lps = planner.pixel_to_lps()
    outside = None
    for y in np.arange(box["y"] + 10, box["y"] + box["height"] - 10, 40.0):  # down the view's left edge
        lps, hu = planner.cursor_at(box["x"] + 10, float(y))
        if hu == "outside the CT":
            outside = (box["x"] + 10, float(y))
            break
    assert outside is not None, "the whole left edge of the axial view lies in the CT"
    planner.place_screw(outside, (outside[0] + 10, outside[1]))
    page.wait_for_function("() => { const e = document.querySelector('#po-error'); return e && e.innerText.includes('outside the CT'); }",
                           timeout=30e3)
    assert [r["key"] for r in planner.rows("screws")] == ["Screw 1"]  # nothing half-placed
    assert np.all(np.isfinite(to_lps(*outside)))

    # a real CT file uploaded from the browser opens a new plan (the 3 mm phantom, written as NRRD)
    from PercutaneousOsteosynthesisLib.fileio.volume import write_image
    from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

    ct, _ = make_phantom(spacing=3.0, direction="identity")
    path = write_image(tmp_path / "staging.nrrd", ct.array.astype(np.int16), ct.geometry)
    page.set_input_files("#po-ct-file", str(path))
    status = planner.wait_status("CT staging", timeout_s=60)
    assert " x ".join(str(n) for n in ct.geometry.size) in status and "3 x 3 x 3 mm" in status
    assert planner.rows("screws") == []


def test_serve_refuses_bad_input_before_starting(tmp_path, capsys):
    from PercutaneousOsteosynthesisLib.cli.main import main

    assert main(["-q", "serve", str(tmp_path / "missing.nii.gz")]) == 2
    assert "missing.nii.gz" in capsys.readouterr().err
    flat = tmp_path / "flat.nrrd"
    flat.write_text("NRRD0004\ntype: short\ndimension: 2\nsizes: 4 4\nencoding: raw\n\n" + "\0" * 32)
    assert main(["-q", "serve", str(flat)]) == 2
    assert "flat.nrrd" in capsys.readouterr().err
    assert main(["-q", "serve", str(flat), "--phantom"]) == 2
