"""Distance from points to the no-go structures, with a cheap lower bound that lets the corridor search skip most
exact queries, and the voxels inside them (which a lesion does not grow into) (LPS mm).

A structure is a set of points, each with a half width (a voxel's half, a sheet's half thickness, a tunnel's
radius): the distance from ``x`` is ``min_i |x - p_i| - hw_i`` over the ``NOGO_NEIGHBOURS`` nearest points within
``NOGO_REACH_MM`` (infinite beyond), which is never below the same minimum over all points, ``F(x)``.

Lower bound: ``F`` changes by at most the distance moved, so ``F(x) >= F(node) - |x - node|`` at the nearest node of
a ``BOUND_STEP_MM`` grid; at a node, for each group of points whose half widths are at most ``b`` (``b`` doubling),
``min |node - p_i| - b`` is bounded below by the exact distance transform of the nodes nearest those points, less
the half diagonal of a cell. The bound lies at most four half diagonals (about 7 mm) plus the group's spread of half
widths below ``F``; a line's samples whose bound already exceeds the line's depth in bone cannot narrow it and need
no exact query.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

NOGO_REACH_MM = 16.0  # wider than any corridor's radius: a structure farther away constrains no line
NOGO_NEIGHBOURS = 4
BOUND_STEP_MM = 2.0
SMALLEST_GROUP_MM = 0.5


class NogoDistance:
    """``nogo(points)`` -> mm from each LPS point (N, 3) to the nearest structure's wall (inf beyond the reach);
    ``nogo.lower_bound(points)`` -> a value never above it, from a precomputed grid (module doc)."""

    def __init__(self, structures):
        self.points = np.vstack([n.points_lps for n in structures]).astype(float)
        self.half = np.concatenate([n.half_widths_mm if n.half_widths_mm is not None
                                    else np.full(len(n.points_lps), n.half_voxel_mm) for n in structures]).astype(float)
        self.tree = cKDTree(self.points)
        self.k = min(NOGO_NEIGHBOURS, len(self.points))
        self._build_bound()

    def __call__(self, points) -> np.ndarray:
        points = np.asarray(points, float).reshape(-1, 3)
        d, i = self.tree.query(points, k=self.k, distance_upper_bound=NOGO_REACH_MM, workers=-1)
        if d.ndim == 1:
            d, i = d[:, None], i[:, None]
        hw = np.where(np.isfinite(d), self.half[np.minimum(i, len(self.half) - 1)], 0.0)
        return (d - hw).min(axis=1)

    def _build_bound(self) -> None:
        h = BOUND_STEP_MM
        cell = 0.5 * h * np.sqrt(3.0)
        pad = NOGO_REACH_MM + 2.0 * h
        self._origin = self.points.min(axis=0) - pad
        shape = np.ceil((self.points.max(axis=0) + pad - self._origin) / h).astype(int) + 1
        node = np.rint((self.points - self._origin) / h).astype(int)
        group = np.ceil(np.log2(np.maximum(self.half, SMALLEST_GROUP_MM) / SMALLEST_GROUP_MM)).astype(int)
        bound = np.full(tuple(shape), np.inf, np.float32)
        for g in np.unique(group):
            mask = np.ones(tuple(shape), bool)
            sel = node[group == g]
            mask[sel[:, 0], sel[:, 1], sel[:, 2]] = False
            top = SMALLEST_GROUP_MM * 2.0 ** g  # every half width of the group is at most this
            np.minimum(bound, (distance_transform_edt(mask, sampling=h) - cell - top).astype(np.float32), out=bound)
        self._bound = bound
        self._shape = shape

    def inside_mask(self, geometry, box) -> np.ndarray:
        """Voxels of ``box`` (slices k, j, i of the grid ``geometry``) whose centre lies inside a structure (distance
        below 0): the exact query only where the lower bound allows it."""
        k, j, i = np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij")
        lps = geometry.ijk_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]).astype(float))
        out = np.zeros(len(lps), bool)
        maybe = np.flatnonzero(self.lower_bound(lps) < 0.0)
        if len(maybe):
            out[maybe] = self(lps[maybe]) < 0.0
        return out.reshape(k.shape)

    def lower_bound(self, points) -> np.ndarray:
        points = np.asarray(points, float).reshape(-1, 3)
        idx = np.rint((points - self._origin) / BOUND_STEP_MM).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < self._shape), axis=1)
        out = np.full(len(points), np.inf)  # beyond the grid: farther than the reach from every point
        ii = idx[inside]
        moved = np.linalg.norm(points[inside] - (self._origin + ii * BOUND_STEP_MM), axis=1)  # from the node
        out[inside] = self._bound[ii[:, 0], ii[:, 1], ii[:, 2]] - moved
        return out
