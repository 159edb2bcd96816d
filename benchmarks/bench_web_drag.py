"""Benchmark: dragging a screw's tip in the web planner (``posteo serve``), as the browser sees it.

Run from the repository root:  python benchmarks/bench_web_drag.py [--screenshot]
Needs the web extra and Debian's chromium (/usr/bin/chromium).  The server runs the phantom in its own process;
Playwright places a screw deep in the sacrum and drags its tip out of the bone and back, ``--moves`` mouse moves
each way.  Per move it measures, in the browser, the milliseconds from the mouse event to the next frame of the
views (event to repaint), and reads the server's own time for the live re-check
and table refresh (the reference: what the session costs, without rendering and transport).  Target: 100 ms end to
end.  Then the same with the bone surface hidden in 3D (what the 3D view's software rendering costs).
``--screenshot`` writes Screenshots/web_planner.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "PercutaneousOsteosynthesis" / "Testing" / "Python"))
TARGET_MS = 100.0


def _drag_series(planner, a, b, moves: int, rounds: int) -> dict:
    repaint, server = [], []
    for _ in range(rounds):
        for start, end in ((a, b), (b, a)):
            repaint += planner.drag(start, end, steps=moves)
            server.append(float(planner.page.inner_text("#po-live").split("live check ")[1].split(" ms")[0]))
    return {"repaint": np.array(repaint), "server": np.array(server)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--screenshot", action="store_true")
    args = ap.parse_args()
    from web_driver import CHROMIUM, PlannerPage, PlannerServer, deep_bone_segment, launch, soft_tissue_pixel

    from PercutaneousOsteosynthesisLib.phantom.anatomy import build_anatomy

    if not CHROMIUM.exists():
        print(f"Debian's chromium is not installed ({CHROMIUM}); nothing measured")
        return 0
    from playwright.sync_api import sync_playwright

    anatomy = build_anatomy()
    with tempfile.TemporaryDirectory() as tmp, PlannerServer(["--phantom"], Path(tmp) / "out", Path(tmp) / "log") as server, \
            sync_playwright() as p:
        browser, page = launch(p)
        page.goto(server.url)
        planner = PlannerPage(page)
        planner.wait_status("CT PelvisPhantom", 120)
        page.click("#po-build-bone")
        planner.wait_status("Bone model", 240)
        box = planner.axial_box()
        to_lps = planner.pixel_to_lps()
        entry, tip = deep_bone_segment(anatomy, to_lps, box)
        planner.place_screw(entry, tip)
        planner.wait_row("screws", "Screw 1")
        out = soft_tissue_pixel(anatomy, to_lps, box, tip)
        print(f"phantom 1 mm, viewport {page.viewport_size}, {args.rounds} x 2 drags of {args.moves} moves")
        results = {"bone surface shown in 3D": _drag_series(planner, tip, out, args.moves, args.rounds)}
        if args.screenshot:
            page.screenshot(path=str(REPO / "Screenshots" / "web_planner.png"))
        page.click("text=Bone in 3D")
        page.wait_for_timeout(500)
        results["bone surface hidden in 3D"] = _drag_series(planner, tip, out, args.moves, args.rounds)
        browser.close()
    print(f"{'setting':28s} {'repaint median':>15s} {'p90':>6s} {'max':>6s} {'server':>7s} {'repaint/server':>15s} {'vs target':>9s}")
    for name, r in results.items():
        med, p90, mx, srv = np.median(r["repaint"]), np.percentile(r["repaint"], 90), r["repaint"].max(), np.median(r["server"])
        print(f"{name:28s} {med:13.0f} ms {p90:6.0f} {mx:6.0f} {srv:5.1f} ms {med / max(srv, 0.1):14.0f}x {med / TARGET_MS:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
