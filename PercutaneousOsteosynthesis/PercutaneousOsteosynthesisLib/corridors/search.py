"""The widest straight pathway through bone near a nominal axis: a maximin search over lines (LPS mm).

A line is a point ``P`` in the disc of radius ``half_width_mm`` around the region's centre, perpendicular to the
nominal direction, and a direction in the cone of ``cone_deg`` around it. Along the line, the depth in bone (minus
the signed distance) is read every ``step`` mm; the run of bone through ``P`` gives the entry (where the line enters
the bone, behind ``P``) and, for a through-going pathway, the exit. The tip (``TipRule``) is the exit itself ("run",
less ``back_off_mm``; the width is then measured from the entry over ``measure_length_mm``, the pathway's shortest
useful screw, when set), the crossing of a plane (the sacral midline), or the far side of a sphere (the subchondral
bone of the femoral head; the width is then measured up to the sphere's centre). The pathway's radius is the
smallest depth between the end of the entry zone (where the depth stops rising, at most ``ENTRY_ZONE_MAX_MM`` in,
as in screws.clearance) and the tip (for a run, the start of the exit zone, its mirror image), also limited by the
distance to the no-go structures from the entry to the end of that measure.

Search: every line of a coarse grid (``COARSE_STEP_MM``, ``COARSE_ANGLE_DEG``) is scored in one vectorised call;
the best ``N_STARTS`` start a pattern search (position and angle steps halved down to ``FINE_STEP_MM``) with samples
every ``MID_SAMPLE_MM``, then ``FINE_SAMPLE_MM`` with the finer depth for the last step size. Score = radius -
``ANGLE_WEIGHT`` x degrees from the nominal direction - ``OFFSET_WEIGHT`` x the line's distance from the search
centre: among lines of (nearly) equal narrowest width, the one nearest the expected pathway wins, so that the optimum
is one line, not any of a flat set (a corridor often has one narrowest place, which leaves the direction or the
position along that place free).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry.vectors import disc_offsets, perpendicular_frame

ENTRY_ZONE_MAX_MM = 10.0
COARSE_STEP_MM = 2.0
COARSE_ANGLE_DEG = 3.0
COARSE_SAMPLE_MM = 2.0
MID_SAMPLE_MM = 1.0
FINE_SAMPLE_MM = 0.5
FINE_STEP_MM = 0.125
ANGLE_WEIGHT = 0.02  # mm of radius one degree away from the nominal direction is worth
OFFSET_WEIGHT = 0.02  # mm of radius one mm away from the search centre is worth
N_STARTS = 4
RISE_TOL_MM = 1e-3


@dataclass(frozen=True)
class TipRule:
    """Where the tip of a line lies: ``kind`` "run" (the exit of the bone run, less ``back_off_mm``), "plane" (the
    crossing of the plane through ``point_lps`` with normal ``normal_lps``) or "sphere" (the far
    crossing of the sphere of ``radius_mm`` around ``point_lps``)."""

    kind: str = "run"
    point_lps: tuple = (0.0, 0.0, 0.0)
    normal_lps: tuple = (1.0, 0.0, 0.0)
    radius_mm: float = 0.0
    back_off_mm: float = 0.0
    measure_back_mm: float = 0.0  # "sphere": the width is measured over this length before the centre (0: all)
    measure_length_mm: float = 0.0  # "run": the width is measured over this length from the entry (0: to the exit)

    def tip_s(self, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Axis position (mm from ``p`` along ``d``) of the tip of each line (inf: the exit of the run)."""
        if self.kind == "run":
            return np.full(len(p), np.inf)
        q = np.asarray(self.point_lps, float)
        if self.kind == "plane":
            n = np.asarray(self.normal_lps, float)
            dn = d @ n
            with np.errstate(divide="ignore", invalid="ignore"):
                s = ((q - p) @ n) / dn
            return np.where(np.abs(dn) > 1e-6, s, np.nan)
        w = p - q  # |w + s d|^2 = r^2 -> s^2 + 2 (w.d) s + |w|^2 - r^2 = 0; far root
        b = np.einsum("ij,ij->i", w, d)
        disc = b * b - (np.einsum("ij,ij->i", w, w) - self.radius_mm ** 2)
        return np.where(disc >= 0, -b + np.sqrt(np.maximum(disc, 0.0)), np.nan)


@dataclass(frozen=True)
class SearchRegion:
    centre_lps: tuple
    direction_lps: tuple  # nominal direction, from the entry toward the tip
    half_width_mm: float
    cone_deg: float
    back_mm: float  # the entry lies at most this far behind P
    ahead_mm: float  # the tip or exit lies at most this far ahead of P
    tip: TipRule = TipRule()
    min_back_mm: float = 0.0  # the bone run must reach at least this far behind P (e.g. beyond the sacroiliac joint)
    min_ahead_mm: float = 0.0  # ... and this far ahead of it (a through-going run)


@dataclass
class LineResult:
    point_lps: np.ndarray
    direction_lps: np.ndarray
    entry_s: float
    tip_s: float
    radius_mm: float
    narrowest_s: float
    score: float
    coarse: tuple | None = field(default=None, repr=False)  # (offsets, tilts, scores) of the coarse grid's lines

    @property
    def entry_lps(self) -> np.ndarray:
        return self.point_lps + self.entry_s * self.direction_lps

    @property
    def tip_lps(self) -> np.ndarray:
        return self.point_lps + self.tip_s * self.direction_lps

    @property
    def length_mm(self) -> float:
        return float(self.tip_s - self.entry_s)


def _zone_end(depth: np.ndarray, start: np.ndarray, s: np.ndarray, forward: bool) -> np.ndarray:
    """Index where the depth stops rising after ``start`` (forward) or before it (backward), capped at
    ``ENTRY_ZONE_MAX_MM`` from it."""
    n = depth.shape[1]
    idx = np.arange(n)[None, :]
    step = np.diff(depth, axis=1)  # step[:, i] = depth[i+1] - depth[i]
    if forward:
        stop = (step <= RISE_TOL_MM) & (idx[:, :-1] >= start[:, None])
        end = np.where(stop.any(axis=1), np.argmax(stop, axis=1), n - 1)
        cap = np.searchsorted(s, s[np.minimum(start, n - 1)] + ENTRY_ZONE_MAX_MM, side="right")
        return np.minimum(end, np.minimum(cap, n - 1))
    stop = (step >= -RISE_TOL_MM) & (idx[:, 1:] <= start[:, None])  # walking back from start: depth rising backwards
    last = np.where(stop.any(axis=1), n - 2 - np.argmax(stop[:, ::-1], axis=1) + 1, 0)
    cap = np.searchsorted(s, s[np.maximum(start, 0)] - ENTRY_ZONE_MAX_MM, side="left")
    return np.maximum(last, np.maximum(cap, 0))


def score_lines(p: np.ndarray, d: np.ndarray, region: SearchRegion, depth_fn, nogo_fn, step: float):
    """(score, radius, entry s, tip s, narrowest s) of lines ``p + s d`` (each (L, 3)); invalid lines score -inf."""
    s = np.arange(-region.back_mm, region.ahead_mm + 0.5 * step, step)
    n_l, n_s = len(p), len(s)
    pts = p[:, None, :] + s[None, :, None] * d[:, None, :]
    depth = depth_fn(pts.reshape(-1, 3)).reshape(n_l, n_s)
    i0 = int(np.argmin(np.abs(s)))
    inside = depth > 0
    rows = np.arange(n_l)
    # the run of bone through P (sample i0)
    before = ~inside[:, : i0 + 1][:, ::-1]
    a = np.where(before.any(axis=1), i0 - np.argmax(before, axis=1) + 1, -1)  # -1: bone reaches the search's start
    after = ~inside[:, i0:]
    b = np.where(after.any(axis=1), i0 + np.argmax(after, axis=1) - 1, n_s)  # n_s: bone reaches the search's end
    a_c, b_c = np.clip(a, 0, n_s - 1), np.clip(b, 0, n_s - 1)
    tip = region.tip.tip_s(p, d)
    run_tip = np.isinf(tip)
    valid = inside[:, i0] & (a > 0) & ((b < n_s) | ~run_tip)
    valid &= (s[a_c] <= -region.min_back_mm) & (s[b_c] >= region.min_ahead_mm)
    tip = np.where(run_tip, s[b_c] - region.tip.back_off_mm, tip)
    valid &= np.isfinite(tip) & (tip > s[a_c]) & (tip <= s[b_c] + 0.5 * step)
    t_i = np.clip(np.searchsorted(s, tip, side="right") - 1, 0, n_s - 1)
    lo = _zone_end(depth, a_c, s, forward=True)
    hi = np.where(run_tip, _zone_end(depth, b_c, s, forward=False), t_i)
    if region.tip.kind == "run" and region.tip.measure_length_mm > 0:  # the pathway's shortest screw from the entry
        reach = entry_s(depth, a_c, s, step) + region.tip.measure_length_mm
        valid &= reach <= s[b_c]
        hi = np.clip(np.searchsorted(s, reach, side="right") - 1, 0, n_s - 1)
    if region.tip.kind == "sphere":  # the width is measured up to the sphere's centre: beyond, the surface ahead limits it
        s_c = np.einsum("ij,ij->i", np.asarray(region.tip.point_lps, float) - p, d)
        hi = np.minimum(hi, np.clip(np.searchsorted(s, s_c, side="right") - 1, 0, n_s - 1))
        if region.tip.measure_back_mm > 0:
            lo = np.maximum(lo, np.searchsorted(s, s_c - region.tip.measure_back_mm, side="left"))
    idx = np.arange(n_s)[None, :]
    interior = (idx >= lo[:, None]) & (idx <= hi[:, None])
    valid &= interior.any(axis=1)
    masked = np.where(interior, depth, np.inf)
    if nogo_fn is not None:  # no-go structures count along the whole screw, entry and exit zones included
        segment = (idx >= a_c[:, None]) & (idx <= hi[:, None]) & valid[:, None]
        bound = getattr(nogo_fn, "lower_bound", None)
        if bound is not None and segment.any():  # samples that cannot come nearer than the line's depth: no exact query
            segment[segment] = bound(pts[segment]) < np.broadcast_to(masked.min(axis=1)[:, None], segment.shape)[segment]
        if segment.any():
            near = np.full(depth.shape, np.inf)
            near[segment] = nogo_fn(pts[segment])
            masked = np.minimum(masked, near)
    k = np.argmin(masked, axis=1)
    radius = masked[rows, k]
    u = np.asarray(region.direction_lps, float)
    angle = np.degrees(np.arccos(np.clip(d @ (u / np.linalg.norm(u)), -1.0, 1.0)))
    offset = np.linalg.norm(np.cross(p - np.asarray(region.centre_lps, float), d), axis=1)
    score = np.where(valid, radius - ANGLE_WEIGHT * angle - OFFSET_WEIGHT * offset, -np.inf)
    return score, np.where(valid, radius, -np.inf), entry_s(depth, a_c, s, step), tip, s[k]


def entry_s(depth: np.ndarray, a: np.ndarray, s: np.ndarray, step: float) -> np.ndarray:
    """Where each line crosses the surface into its bone run starting at sample ``a`` (linear between samples)."""
    rows = np.arange(len(a))
    d_out, d_in = depth[rows, np.maximum(a - 1, 0)], depth[rows, a]
    frac = np.clip(d_in / np.maximum(d_in - d_out, 1e-9), 0.0, 1.0)
    return s[a] - frac * step


def _lines(region: SearchRegion, offsets: np.ndarray, tilts: np.ndarray):
    u = np.asarray(region.direction_lps, float)
    u = u / np.linalg.norm(u)
    e1, e2 = perpendicular_frame(u)
    c = np.asarray(region.centre_lps, float)
    p = c + offsets[:, :1] * e1 + offsets[:, 1:] * e2
    d = u + tilts[:, :1] * e1 + tilts[:, 1:] * e2
    return p, d / np.linalg.norm(d, axis=1, keepdims=True)


def find_widest_line(region: SearchRegion, depth_fn, nogo_fn=None, coarse_step_mm: float = COARSE_STEP_MM,
                     coarse_angle_deg: float = COARSE_ANGLE_DEG, fine_depth_fn=None) -> LineResult | None:
    """The line of the region with the best score (see module doc), or None when no line has a valid bone run;
    ``fine_depth_fn`` (default ``depth_fn``): a more exact depth for the pattern search and the result."""
    offsets = disc_offsets(region.half_width_mm, coarse_step_mm)
    tilts = disc_offsets(np.tan(np.radians(region.cone_deg)), np.tan(np.radians(coarse_angle_deg)))
    oi, ti = np.meshgrid(np.arange(len(offsets)), np.arange(len(tilts)), indexing="ij")
    off, tilt = offsets[oi.ravel()], tilts[ti.ravel()]
    best = np.full(len(off), -np.inf)
    chunk = max(1, 400_000 // int((region.back_mm + region.ahead_mm) / COARSE_SAMPLE_MM + 1))
    for start in range(0, len(off), chunk):
        p, d = _lines(region, off[start:start + chunk], tilt[start:start + chunk])
        best[start:start + chunk] = score_lines(p, d, region, depth_fn, nogo_fn, COARSE_SAMPLE_MM)[0]
    if not np.isfinite(best).any():
        return None
    order = np.argsort(-best)[: N_STARTS]
    fine = fine_depth_fn if fine_depth_fn is not None else depth_fn
    results = [_refine(region, off[i], tilt[i], depth_fn, fine, nogo_fn, coarse_step_mm, np.tan(np.radians(coarse_angle_deg)))
               for i in order if np.isfinite(best[i])]
    out = max((r for r in results if r is not None), key=lambda r: r.score, default=None)
    if out is not None:
        out.coarse = (off, tilt, best)
    return out


def _refine(region, off0, tilt0, depth_fn, fine_fn, nogo_fn, step_mm: float, step_tan: float) -> LineResult | None:
    """Pattern search from one coarse line: move to the best of the 8 neighbours while it improves, then halve the
    steps; on ``depth_fn`` sampled every ``MID_SAMPLE_MM`` down to ``FINE_STEP_MM`` x 2, then on ``fine_fn`` every
    ``FINE_SAMPLE_MM`` for the last step size and the result."""
    x = np.concatenate([off0, tilt0]).astype(float)
    scale = np.array([step_mm, step_mm, step_tan, step_tan])

    def evaluate(xs, fn, sample):
        p, d = _lines(region, xs[:, :2], xs[:, 2:])
        return p, d, score_lines(p, d, region, fn, nogo_fn, sample)

    def climb(h, fn, sample):
        nonlocal x
        current = float(evaluate(x[None], fn, sample)[2][0][0])
        moves = np.vstack([np.eye(4), -np.eye(4)]) * (h * scale)
        for _ in range(40):
            sc = evaluate(x[None] + moves, fn, sample)[2][0]
            j = int(np.argmax(sc))
            if sc[j] <= current + 1e-6:
                break
            x, current = x + moves[j], float(sc[j])

    h = 0.5
    while h * step_mm >= 2.0 * FINE_STEP_MM:
        climb(h, depth_fn, MID_SAMPLE_MM)
        h *= 0.5
    climb(h, fine_fn, FINE_SAMPLE_MM)
    p, d, (sc, radius, entry, tip, narrow) = evaluate(x[None], fine_fn, FINE_SAMPLE_MM)
    if not np.isfinite(sc[0]):
        return None
    return LineResult(p[0], d[0], float(entry[0]), float(tip[0]), float(radius[0]), float(narrow[0]), float(sc[0]))
