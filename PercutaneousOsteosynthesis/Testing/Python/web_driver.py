"""Driving the web planner (``posteo serve``) in Debian's Chromium with Playwright: shared by the browser tests and
the drag benchmark.  The server runs in its own process, as a user would start it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}
SCREW_RADIUS_MM = 7.3 / 2
SAFE_DEPTH_MM = SCREW_RADIUS_MM + 2.0  # the truth's bone left all round a safe screw (margin 1 mm + 1 mm of CT error)
CURSOR = re.compile(r"LPS \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) mm · (.*)")


# ---------------------------------------------------------------------------------------- where the truth says
def segment_clearance(anatomy, a, b) -> float:
    """Smallest truth depth (mm) along the segment a-b inside bone, away from the no-go tunnels (lower bound:
    the union's field underestimates depth where shapes overlap)."""
    p = a + np.linspace(0, 1, 200)[:, None] * (b - a)
    return float(np.minimum(-anatomy.envelope_sdf(p), _union_sdf(anatomy.nogo, p)).min())


def deep_bone_segment(anatomy, to_lps, box):
    """A horizontal segment of the axial view, 40 mm long, whose whole length the truth calls deep bone, the deepest
    such segment of the view; page pixels (entry, tip)."""
    best = None
    for y in np.arange(box["y"] + 20, box["y"] + box["height"] - 20, 6.0):
        xs = np.arange(box["x"] + 20, box["x"] + box["width"] - 20, 3.0)
        pts = np.array([to_lps(x, y) for x in xs])
        depth = np.minimum(-anatomy.envelope_sdf(pts), _union_sdf(anatomy.nogo, pts))
        step = float(np.linalg.norm(pts[1] - pts[0]))
        n = int(np.ceil(40.0 / step))
        for a in range(0, len(xs) - n):
            clearance = float(depth[a:a + n + 1].min())
            if best is None or clearance > best[0]:
                best = (clearance, (float(xs[a]), float(y)), (float(xs[a + n]), float(y)))
    assert best is not None and best[0] >= SAFE_DEPTH_MM, f"no deep bone in the axial view ({best})"
    return best[1], best[2]


def soft_tissue_pixel(anatomy, to_lps, box, tip_xy):
    """A pixel straight below or above the tip (same view) that the truth puts 10 mm or more outside any bone."""
    for dy in np.arange(10.0, box["height"], 4.0):
        for y in (tip_xy[1] + dy, tip_xy[1] - dy):
            if box["y"] + 10 < y < box["y"] + box["height"] - 10:
                p = to_lps(tip_xy[0], y)
                if anatomy.envelope_sdf(p[None])[0] >= 10.0:
                    return (tip_xy[0], float(y))
    raise AssertionError("no soft tissue above or below the tip")


def _union_sdf(shapes, p):
    from PercutaneousOsteosynthesisLib.phantom.shapes import union_sdf

    return union_sdf(shapes, p)


# ---------------------------------------------------------------------------------------- server and browser
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PlannerServer:
    """``posteo serve ...`` in a subprocess; ``with PlannerServer(["--phantom"], out_dir) as server: server.url``."""

    def __init__(self, args: list, out_dir, log_path, timeout_s: float = 120.0):
        self.port = free_port()
        self.url = f"http://localhost:{self.port}/"
        self.args, self.out_dir, self.log_path, self.timeout_s = list(args), Path(out_dir), Path(log_path), timeout_s
        self.proc = None

    def __enter__(self):
        cmd = [sys.executable, "-m", "PercutaneousOsteosynthesisLib", "serve", *self.args, "--port", str(self.port),
               "--out", str(self.out_dir)]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        t = time.time()
        while time.time() - t < self.timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"posteo serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.url, timeout=2).read()
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"posteo serve did not answer in {self.timeout_s} s:\n{self.log_tail()}")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-n:])


def launch(playwright):
    """A headless Chromium page (Debian's browser, not a downloaded one) at the viewport size."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    return browser, browser.new_page(viewport=VIEWPORT)


# the page's view images change source on every frame the server sends: record when
FRAME_PROBE = """() => {
  window.__frames = [];
  const seen = new WeakSet();
  const watch = () => document.querySelectorAll('img.image-display-area').forEach(img => {
    if (seen.has(img)) return;
    seen.add(img);
    new MutationObserver(() => window.__frames.push(performance.now())).observe(img, {attributes: true, attributeFilter: ['src']});
  });
  watch();
  new MutationObserver(watch).observe(document.body, {subtree: true, childList: true});  // views created later
}"""


class PlannerPage:
    def __init__(self, page):
        self.page = page

    def status(self) -> str:
        return self.page.inner_text("#po-status")

    def wait_status(self, prefix: str, timeout_s: float = 180.0) -> str:
        self.page.wait_for_function("(p) => { const e = document.querySelector('#po-status'); return e && e.innerText.startsWith(p); }",
                                    arg=prefix, timeout=timeout_s * 1e3)
        return self.status()

    def error(self) -> str:
        el = self.page.query_selector("#po-error")
        return el.inner_text() if el is not None else ""

    def axial_box(self) -> dict:
        """The largest view (the axial view of the layout), page pixels."""
        boxes = [img.bounding_box() for img in self.page.query_selector_all("img.image-display-area")]
        return max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])

    def cursor_at(self, x: float, y: float):
        """(LPS mm or None, rest of the readout) under the mouse at page pixel (x, y)."""
        self.page.mouse.move(x, y)
        before = self.page.inner_text("#po-cursor")
        for _ in range(40):
            self.page.wait_for_timeout(50)
            text = self.page.inner_text("#po-cursor")
            if text and text != before:
                break
        m = CURSOR.search(self.page.inner_text("#po-cursor"))
        return (np.array([float(v) for v in m.groups()[:3]]), m.group(4)) if m else (None, self.page.inner_text("#po-cursor"))

    def pixel_map(self):
        """(cx, cy, p0, du, dv): the axial view's centre pixel, its LPS point and the LPS mm per page pixel along x
        and y (the view is planar: an affine map), read off the data probe at three pixels."""
        box = self.axial_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        p0, _ = self.cursor_at(cx, cy)
        px, _ = self.cursor_at(cx + 100, cy)
        py, _ = self.cursor_at(cx, cy + 100)
        return cx, cy, p0, (px - p0) / 100.0, (py - p0) / 100.0

    def pixel_to_lps(self):
        """The axial view's page pixel -> LPS map."""
        cx, cy, p0, du, dv = self.pixel_map()
        return lambda x, y: p0 + (x - cx) * du + (y - cy) * dv

    def go_to_lps(self, target_lps, tolerance_mm: float = 0.6):
        """Scroll the axial view (mouse wheel, one slice per notch) to the plane of ``target_lps``; returns its page
        pixel (x, y) there."""
        target = np.asarray(target_lps, float)
        cx, cy, p0, du, dv = self.pixel_map()
        normal = np.cross(du, dv)
        normal /= np.linalg.norm(normal)
        per_notch = None  # mm along the normal per wheel notch of +100
        for i in range(300):
            distance = float(np.dot(target - p0, normal))
            if abs(distance) <= tolerance_mm:
                break
            sign = 1.0 if per_notch is None or distance / per_notch > 0 else -1.0
            self.page.mouse.wheel(0, 100 * sign)
            self.page.wait_for_timeout(80)
            x = cx + (1.0 if i % 2 == 0 else 0.0)  # a new pixel, so that the readout changes
            p1, _ = self.cursor_at(x, cy)
            p1 = p1 - (x - cx) * du
            if per_notch is None:
                per_notch = float(np.dot(p1 - p0, normal))
                if abs(per_notch) < 1e-3:
                    raise AssertionError("the mouse wheel does not move the axial view's slice")
            p0 = p1
        uv, *_ = np.linalg.lstsq(np.column_stack([du, dv]), target - p0, rcond=None)
        return float(cx + uv[0]), float(cy + uv[1])

    def rows(self, table: str) -> list[dict]:
        return self.page.evaluate("""(t) => Array.from(document.querySelectorAll(`[data-table="${t}"] tr.po-row`)).map(r => ({
            key: r.getAttribute('data-key'), grade: r.getAttribute('data-grade'),
            cells: Array.from(r.querySelectorAll('td')).map(c => c.innerText),
            bg: getComputedStyle(r).backgroundColor,
            cellBgs: Array.from(r.querySelectorAll('td')).map(c => getComputedStyle(c).backgroundColor)}))""", table)

    def wait_row(self, table: str, key: str, grade: str | None = None, timeout_s: float = 30.0) -> dict:
        self.page.wait_for_function("""([t, k, g]) => Array.from(document.querySelectorAll(`[data-table="${t}"] tr.po-row`))
            .some(r => r.getAttribute('data-key') === k && (!g || r.getAttribute('data-grade') === g))""",
                                    arg=[table, key, grade], timeout=timeout_s * 1e3)
        return next(r for r in self.rows(table) if r["key"] == key)

    def place_screw(self, entry_xy, tip_xy) -> None:
        self.page.click("#po-place-screw")
        self.page.wait_for_function("() => document.querySelector('#po-status').innerText.startsWith('Click the screw')")
        for xy in (entry_xy, tip_xy):
            self.click_view(*xy)

    def click_view(self, x: float, y: float) -> None:
        """Move to (x, y) as a hand would, let the view follow, then click (the view places where it saw the mouse)."""
        self.page.mouse.move(x, y, steps=5)
        self.page.wait_for_timeout(250)
        self.page.mouse.down()
        self.page.mouse.up()
        self.page.wait_for_timeout(250)

    def drag(self, start_xy, end_xy, steps: int = 10) -> list[float]:
        """Drag a control point from ``start_xy`` to ``end_xy``; returns, per mouse move, the milliseconds from the
        move to the next frame of the views (event to repaint, as the browser sees it)."""
        page = self.page
        page.evaluate(FRAME_PROBE)
        page.mouse.move(*start_xy)
        page.wait_for_timeout(400)  # the widget highlights the point under the mouse
        page.mouse.down()
        delays = []
        for k in range(1, steps + 1):
            x = start_xy[0] + (end_xy[0] - start_xy[0]) * k / steps
            y = start_xy[1] + (end_xy[1] - start_xy[1]) * k / steps
            t0 = page.evaluate("() => performance.now()")
            page.mouse.move(x, y)
            page.wait_for_function("(t0) => window.__frames.some(t => t > t0)", arg=t0, timeout=10e3)
            delays.append(page.evaluate("(t0) => Math.min(...window.__frames.filter(t => t > t0)) - t0", t0))
            page.wait_for_timeout(30)
        page.wait_for_timeout(200)
        page.mouse.move(*end_xy)  # the views drop a move that arrives right after another: settle at the end
        page.wait_for_timeout(200)
        page.mouse.up()
        return delays
