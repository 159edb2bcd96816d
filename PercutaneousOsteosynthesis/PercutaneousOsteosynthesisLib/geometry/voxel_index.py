"""Voxel indices of a mask."""

from __future__ import annotations

import numpy as np


def nonzero_kji(mask: np.ndarray) -> np.ndarray:
    """Index (N, ndim, int64, raster order) of the nonzero voxels of ``mask``: ``np.argwhere(mask)``, from the flat
    indices (3-10 times faster on a large 3D mask)."""
    flat = np.flatnonzero(mask)
    return np.column_stack(np.unravel_index(flat, mask.shape)) if mask.ndim else np.zeros((len(flat), 0), np.int64)
