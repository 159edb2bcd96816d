"""Voxel indices of a mask, and the LPS coordinates of a box's voxels."""

from __future__ import annotations

import numpy as np


def nonzero_kji(mask: np.ndarray) -> np.ndarray:
    """Index (N, ndim, int64, raster order) of the nonzero voxels of ``mask``: ``np.argwhere(mask)``, from the flat
    indices (3-10 times faster on a large 3D mask)."""
    flat = np.flatnonzero(mask)
    return np.column_stack(np.unravel_index(flat, mask.shape)) if mask.ndim else np.zeros((len(flat), 0), np.int64)


def lps_coordinate_of_box(geometry, box, row: int) -> np.ndarray:
    """LPS coordinate ``row`` (0: x, 1: y, 2: z; mm, float32) of every voxel of ``box`` (slices k, j, i) of a grid with
    this ``geometry``, from its affine map (no index array)."""
    a, b, c = (np.float32(v) for v in geometry.ijk_to_lps_matrix()[row, :3])  # (i, j, k) steps to LPS
    origin = np.float32(geometry.ijk_to_lps([s.start for s in box][::-1])[row])
    k, j, i = (np.arange(s.stop - s.start, dtype=np.float32) for s in box)
    return origin + a * i[None, None, :] + b * j[None, :, None] + c * k[:, None, None]
