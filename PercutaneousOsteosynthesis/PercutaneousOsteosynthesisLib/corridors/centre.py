"""The centre of a flat optimum: the corridor's line when many lines are (nearly) as wide as the widest (LPS mm).

A corridor often has one narrowest place (a bottleneck) that lines pivot about: lines many degrees apart are then
within a few tenths of a millimetre of the widest width, and which one wins the maximin search (corridors.search)
is decided by depth errors of that size (a CT's partial volume at a crease). Its centre is stable:

- direction: for each direction of a grid of ``TILT_STEP_DEG`` in the region's cone, the widest line in that
  direction (a pattern search over positions, started from the line through the widest line's narrowest point and
  from the best line of the nearest direction of the search's coarse grid); the directions whose widest line is
  within ``FLAT_MM`` of the widest of all make the flat optimum; of its connected parts on the grid, the one with the
  largest total weight (below) is kept (a pelvis may have two mirror-image optima: the centre of one of them, not the
  line between them); the direction is their mean weighted by how much their width exceeds that threshold (a
  direction at the threshold weighs nothing: the centre moves continuously with the depths);
- position: among the lines of that direction through a ``POSITION_STEP_MM`` grid of ``POSITION_REACH_MM`` around
  its widest one, the mean position weighted the same way;

the width reported is that of this centre line, kept when it is within ``FLAT_MM`` of the widest; the mean of a curved
flat set may fall off it: then the member direction nearest the mean is taken, positioned the same way (or, failing
that, the widest line itself). The same rule is applied to the phantom's exact
geometry (phantom.corridor_truth) and to a CT.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry.vectors import disc_offsets, perpendicular_frame
from .search import FINE_SAMPLE_MM, MID_SAMPLE_MM, LineResult, SearchRegion, _lines, find_widest_line, score_lines

FLAT_MM = 1.0  # lines whose radius is within this of the widest make the flat optimum
TILT_STEP_DEG = 2.0
POSITION_STEP_MM = 0.5
POSITION_REACH_MM = 4.0
CLIMB_STEPS_MM = (1.0, 0.5, 0.25)
CLIMB_SAMPLES_MM = (2.0, 1.0, 1.0)  # depth sampled along the lines at each step size
PIVOT_PRUNE_MM = 2.0  # directions whose line through the narrowest point is this much below the threshold are dropped
PRUNE_MM = 0.5  # ... and those whose widest line after the first climb is this much below it
MAX_MOVES = 8


def _frame(region: SearchRegion):
    u = np.asarray(region.direction_lps, float)
    u = u / np.linalg.norm(u)
    e1, e2 = perpendicular_frame(u)
    return np.asarray(region.centre_lps, float), u, e1, e2


def _radius(region, offsets, tilts, depth_fn, nogo_fn, sample):
    p, d = _lines(region, offsets, tilts)
    return score_lines(p, d, region, depth_fn, nogo_fn, sample)[1]


def _through(region, point, tilts):
    """Offsets of the lines of ``tilts`` that pass through ``point``."""
    c, u, e1, e2 = _frame(region)
    d = u + tilts[:, :1] * e1 + tilts[:, 1:] * e2
    lam = -((point - c) @ u) / (d @ u)
    q = point[None] + lam[:, None] * d - c
    return np.column_stack([q @ e1, q @ e2])


def _climb(region, offsets, tilts, depth_fn, nogo_fn, floor):
    """Widest line per tilt (batch pattern search over the offsets, 8 neighbours); lines below ``floor - PIVOT_PRUNE_MM``
    at the start or below ``floor`` after the first step size are dropped. Returns (offsets, radius, kept indices)."""
    kept = np.arange(len(tilts))
    r = _radius(region, offsets, tilts, depth_fn, nogo_fn, CLIMB_SAMPLES_MM[0])
    keep = r >= floor - PIVOT_PRUNE_MM
    offsets, tilts, r, kept = offsets[keep].copy(), tilts[keep], r[keep], kept[keep]
    moves = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    for k, (h, sample) in enumerate(zip(CLIMB_STEPS_MM, CLIMB_SAMPLES_MM)):
        if k > 0 and sample != CLIMB_SAMPLES_MM[k - 1]:
            r = _radius(region, offsets, tilts, depth_fn, nogo_fn, sample)
        active = np.ones(len(tilts), bool)
        for _ in range(MAX_MOVES):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            cand = offsets[idx][:, None, :] + h * moves[None]
            rc = _radius(region, cand.reshape(-1, 2), np.repeat(tilts[idx], len(moves), axis=0), depth_fn, nogo_fn,
                         sample).reshape(-1, len(moves))
            j = np.argmax(rc, axis=1)
            better = rc[np.arange(len(idx)), j] > r[idx] + 1e-6
            offsets[idx[better]] = cand[better, j[better]]
            r[idx[better]] = rc[better, j[better]]
            active[:] = False
            active[idx[better]] = True
        if k == 0:
            keep = r >= floor
            offsets, tilts, r, kept = offsets[keep], tilts[keep], r[keep], kept[keep]
    return offsets, r, kept


def _weighted(values, radius, best):
    w = np.clip(radius - (best - FLAT_MM), 0.0, None)
    if w.sum() <= 0:
        return None
    return (w[:, None] * values).sum(axis=0) / w.sum()


def _coarse_starts(best: LineResult, tilts: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """For each tilt, the offset of the best line of the nearest tilt of the coarse grid (``fallback`` where none)."""
    if best.coarse is None:
        return fallback
    off, tilt, score = best.coarse
    ok = np.isfinite(score)
    if not ok.any():
        return fallback
    off, tilt, score = off[ok], tilt[ok], score[ok]
    uniq, inverse = np.unique(tilt, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    top = np.full(len(uniq), -np.inf)
    np.maximum.at(top, inverse, score)
    first = np.full(len(uniq), -1)
    hit = score >= top[inverse]
    first[inverse[hit]] = np.flatnonzero(hit)
    near = np.argmin(((tilts[:, None, :] - uniq[None]) ** 2).sum(axis=2), axis=1)
    return off[first[near]]


def _heaviest_component(grid_ij: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Members (bool per grid point) of the 8-connected component of the points of positive ``weight`` with the
    largest total weight."""
    member = weight > 0
    img = np.zeros(grid_ij.max(axis=0) + 1, bool)
    img[tuple(grid_ij[member].T)] = True
    lab, n = ndimage.label(img, structure=np.ones((3, 3)))
    comp = np.where(member, lab[tuple(grid_ij.T)], 0)
    total = np.bincount(comp, weights=np.where(member, weight, 0.0), minlength=n + 1)
    return comp == int(np.argmax(total[1:])) + 1


def find_corridor_line(region: SearchRegion, depth_fn, nogo_fn=None, fine_depth_fn=None) -> LineResult | None:
    """The centre of the flat optimum around the widest line of the region (module doc), or None (no valid line)."""
    best = find_widest_line(region, depth_fn, nogo_fn, fine_depth_fn=fine_depth_fn)
    if best is None:
        return None
    fine = fine_depth_fn if fine_depth_fn is not None else depth_fn
    narrow = best.point_lps + best.narrowest_s * best.direction_lps
    step = np.tan(np.radians(TILT_STEP_DEG))
    tilts = disc_offsets(np.tan(np.radians(region.cone_deg)), step)
    grid_ij = np.rint((tilts - tilts.min(axis=0)) / step).astype(int)
    pivot = _through(region, narrow, tilts)
    starts = np.stack([pivot, _coarse_starts(best, tilts, pivot)])
    r0 = _radius(region, starts.reshape(-1, 2), np.vstack([tilts, tilts]), depth_fn, nogo_fn, CLIMB_SAMPLES_MM[0])
    starts = starts[np.argmax(r0.reshape(2, -1), axis=0), np.arange(len(tilts))]
    offsets, _, which = _climb(region, starts, tilts, depth_fn, nogo_fn, best.radius_mm - FLAT_MM - PRUNE_MM)
    r = np.full(len(tilts), -np.inf)
    r[which] = _radius(region, offsets, tilts[which], fine, nogo_fn, FINE_SAMPLE_MM)
    top = max(best.radius_mm, float(r.max(initial=-np.inf)))
    weight = np.clip(r - (top - FLAT_MM), 0.0, None)
    if not (weight > 0).any():
        return best
    member = _heaviest_component(grid_ij, weight)
    t_c = _weighted(tilts[member], r[member], top)
    at = {int(t): i for i, t in enumerate(which)}
    line = _positioned(region, t_c, offsets[at[int(np.argmax(np.where(member, r, -np.inf)))]], depth_fn, fine, nogo_fn)
    if line is None or line.radius_mm < top - FLAT_MM:  # the mean of a curved flat set fell off it: its nearest member
        k = int(np.flatnonzero(member)[np.argmin(((tilts[member] - t_c) ** 2).sum(axis=1))])
        line = _positioned(region, tilts[k], offsets[at[k]], depth_fn, fine, nogo_fn)
    return line if line is not None and line.radius_mm >= top - FLAT_MM else best


def _positioned(region, tilt, start, depth_fn, fine_fn, nogo_fn) -> LineResult | None:
    """The line of direction ``tilt`` at the centre of the positions within ``FLAT_MM`` of the widest one of that
    direction (pattern search from the offset ``start``), scored on ``fine_fn``; None when invalid."""
    q0, _, _ = _climb(region, start[None], tilt[None], depth_fn, nogo_fn, -np.inf)
    grid = q0 + disc_offsets(POSITION_REACH_MM, POSITION_STEP_MM)
    rq = _radius(region, grid, np.repeat(tilt[None], len(grid), axis=0), depth_fn, nogo_fn, MID_SAMPLE_MM)
    q_c = _weighted(grid, rq, float(rq.max()))
    if q_c is None:
        return None
    p, d = _lines(region, q_c[None], tilt[None])
    sc, radius, entry, tip, narrowest = score_lines(p, d, region, fine_fn, nogo_fn, FINE_SAMPLE_MM)
    if not np.isfinite(radius[0]):
        return None
    return LineResult(p[0], d[0], float(entry[0]), float(tip[0]), float(radius[0]), float(narrowest[0]), float(sc[0]))
