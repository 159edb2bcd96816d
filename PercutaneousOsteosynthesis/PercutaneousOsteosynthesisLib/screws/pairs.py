"""Distances between screws, and from a screw to metal (existing implants), in LPS mm.

Screw-to-screw gaps treat each screw as a capsule (its axis segment grown by its radius), which is
exact along the shafts and slightly conservative at the flat ends.  Metal clearance uses the exact
finite solid cylinder (entry to tip, screw radius).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..errors import PosteoInputError
from .screw import Screw


def point_segment_distance(p, a0, a1) -> tuple[float, np.ndarray]:
    """Distance from point ``p`` to segment ``a0``-``a1`` (LPS mm) and the closest point on the segment."""
    p, a0, a1 = (np.asarray(v, float) for v in (p, a0, a1))
    d = a1 - a0
    dd = float(d @ d)
    t = 0.0 if dd <= 1e-24 else min(1.0, max(0.0, float((p - a0) @ d) / dd))
    q = a0 + t * d
    return float(np.linalg.norm(p - q)), q


def segment_distance_lps(a0, a1, b0, b1) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact minimum distance between segments ``a0``-``a1`` and ``b0``-``b1`` (LPS mm) and the closest points.

    The squared distance is a convex quadratic over the (s, t) unit square: its minimum is the interior
    stationary point when that exists inside the square, otherwise it lies on an edge of the square, i.e.
    is one of the four endpoint-to-segment distances.  Parallel and zero-length segments fall to the edges.
    """
    a0, a1, b0, b1 = (np.asarray(v, float).reshape(3) for v in (a0, a1, b0, b1))
    best = None
    for dist, pa, pb in _edge_candidates(a0, a1, b0, b1):
        if best is None or dist < best[0]:
            best = (dist, pa, pb)
    da, db, r = a1 - a0, b1 - b0, a0 - b0
    # the stationary point by cross products (Lagrange's identity): aa bb - ab^2 = |da x db|^2 without the cancellation
    # that loses nearly parallel segments (at 1e-7 rad the difference form is rounding noise)
    n = np.cross(da, db)
    det = float(n @ n)
    if det > 0:
        s = float(n @ np.cross(db, r)) / det
        t = float(n @ np.cross(da, r)) / det
        if 0.0 <= s <= 1.0 and 0.0 <= t <= 1.0:
            pa, pb = a0 + s * da, b0 + t * db
            dist = float(np.linalg.norm(pa - pb))
            if dist < best[0]:
                best = (dist, pa, pb)
    return best


def _edge_candidates(a0, a1, b0, b1):
    for p in (a0, a1):
        dist, q = point_segment_distance(p, b0, b1)
        yield dist, p, q
    for p in (b0, b1):
        dist, q = point_segment_distance(p, a0, a1)
        yield dist, q, p


def screw_gap_mm(a: Screw, b: Screw) -> float:
    """Axis-segment distance minus both radii (mm); negative when the screws collide."""
    dist, _, _ = segment_distance_lps(a.entry_lps, a.tip_lps, b.entry_lps, b.tip_lps)
    return dist - a.radius_mm - b.radius_mm


def pairwise_gaps(screws) -> list[dict]:
    """Gap of every screw pair: ``{a, b, min_gap_mm, closest_a_lps, closest_b_lps}`` (names, mm, LPS points on the axes)."""
    screws = list(screws)
    out = []
    for i in range(len(screws)):
        for j in range(i + 1, len(screws)):
            a, b = screws[i], screws[j]
            dist, pa, pb = segment_distance_lps(a.entry_lps, a.tip_lps, b.entry_lps, b.tip_lps)
            out.append({"a": a.name, "b": b.name, "min_gap_mm": dist - a.radius_mm - b.radius_mm,
                        "closest_a_lps": pa.tolist(), "closest_b_lps": pb.tolist()})
    return out


def metal_points_from_mask(mask_kji, geometry) -> np.ndarray:
    """LPS centres (N, 3) of the non-zero voxels of a ``[k, j, i]`` mask on ``geometry``."""
    kji = np.argwhere(np.asarray(mask_kji) != 0)
    return geometry.ijk_to_lps(kji[:, ::-1].astype(float))


def cylinder_signed_distance(screw: Screw, points_lps) -> np.ndarray:
    """Signed distance (mm) from LPS points (N, 3) to the screw's solid cylinder: > 0 outside, < 0 inside."""
    p = np.asarray(points_lps, float).reshape(-1, 3) - screw.entry_lps
    u = screw.direction_lps
    t = p @ u
    rho = np.linalg.norm(p - t[:, None] * u, axis=1)
    length, r = screw.length_mm, screw.radius_mm
    axial = np.maximum(np.maximum(-t, t - length), 0.0)
    radial = np.maximum(rho - r, 0.0)
    outside = np.hypot(axial, radial)
    inside = -np.minimum(np.minimum(r - rho, t), length - t)
    return np.where((axial > 0) | (radial > 0), outside, inside)


def metal_clearance(screw: Screw, metal_points_lps, step_mm: float = 1.0) -> tuple[float, np.ndarray | None]:
    """Minimum distance (mm) from the screw's cylinder surface to metal voxel centres, and the nearest centre.

    ``metal_points_lps`` is an (N, 3) LPS array or a ``cKDTree`` built on one.  Negative: metal inside the
    screw.  Exact: axis samples bound the search, then candidates are measured to the true cylinder.
    No metal: ``(inf, None)``.
    """
    if isinstance(metal_points_lps, cKDTree):
        tree = metal_points_lps
    else:
        pts = np.asarray(metal_points_lps, float)
        if pts.size == 0:
            return float("inf"), None
        if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
            raise PosteoInputError("metal points", f"must be finite LPS points of shape (N, 3), got shape {pts.shape}")
        tree = cKDTree(pts)
    if tree.n == 0:
        return float("inf"), None
    if not step_mm > 0:
        raise PosteoInputError(f"step {step_mm}", "must be > 0 mm")
    _, axis = screw.axis_points_lps(step_mm)
    half_gap = 0.5 * screw.length_mm / (len(axis) - 1)
    nearest, _ = tree.query(axis)
    # the closest metal is within (axis distance + radius) of the axis, hence within this of some sample
    radius = float(nearest.min()) + screw.radius_mm + half_gap + 1e-9
    idx = np.unique(np.concatenate([np.asarray(i, np.int64) for i in tree.query_ball_point(axis, radius)]))
    cand = tree.data[idx]
    sd = cylinder_signed_distance(screw, cand)
    k = int(np.argmin(sd))
    return float(sd[k]), cand[k].copy()
