"""Coarser CT grids by area (volume) averaging: the partial-volume effect of a thicker slice, not nearest neighbour.

Used to test the bone model on staging-CT spacings (2-3 mm) from a finer scan of the same anatomy. Also the blocks of
2 x 2 x 2 voxels a coarse flood runs on (their maximum, and back to voxels).
"""

from __future__ import annotations

import numpy as np

from ..errors import PosteoInputError
from .frames import ImageGeometry


def block_max(a: np.ndarray) -> np.ndarray:
    """Maximum over blocks of 2 x 2 x 2 voxels (the last block of an odd axis is a single layer): the even and odd
    layers' maximum, one axis after the other (elementwise, not a reduction over strided axes)."""
    pad = [(0, n % 2) for n in a.shape]
    if any(p[1] for p in pad):
        a = np.pad(a, pad, mode="edge")
    a = np.maximum(a[0::2], a[1::2])
    a = np.maximum(a[:, 0::2], a[:, 1::2])
    return np.maximum(a[:, :, 0::2], a[:, :, 1::2])


def unblock(b: np.ndarray, shape) -> np.ndarray:
    """Blocks of 2 x 2 x 2 voxels (:func:`block_max`) back to voxels, cropped to ``shape`` (a new, writable array,
    written in one pass)."""
    k, j, i = b.shape
    voxels = np.empty((2 * k, 2 * j, 2 * i), b.dtype)
    voxels.reshape(k, 2, j, 2, i, 2)[...] = b[:, None, :, None, :, None]
    return voxels[:shape[0], :shape[1], :shape[2]]


def block_average(array: np.ndarray, geometry: ImageGeometry, factors) -> tuple[np.ndarray, ImageGeometry]:
    """Average ``[k, j, i]`` voxels in blocks of ``factors`` (i, j, k; integers >= 1) -> (array, geometry).

    The new voxel centre is the centre of its block (LPS origin moved by half a block minus half a voxel along the
    direction matrix); a partial block at the far edge of each axis is dropped. Spacing grows by the factors.
    """
    f = np.broadcast_to(np.asarray(factors), (3,)).astype(int)
    if np.any(f < 1):
        raise PosteoInputError("resampling", f"block factors must be integers >= 1, got {tuple(factors)}")
    fk, fj, fi = int(f[2]), int(f[1]), int(f[0])
    nk, nj, ni = (array.shape[0] // fk, array.shape[1] // fj, array.shape[2] // fi)
    if min(nk, nj, ni) < 1:
        raise PosteoInputError("resampling", f"image {array.shape[::-1]} (i, j, k) is smaller than one block {tuple(f)}")
    a = np.asarray(array[: nk * fk, : nj * fj, : ni * fi], np.float64)
    out = a.reshape(nk, fk, nj, fj, ni, fi).mean(axis=(1, 3, 5))
    sp = np.asarray(geometry.spacing, float)
    shift = geometry.direction_matrix @ (sp * (f - 1) / 2.0)
    geo = ImageGeometry((ni, nj, nk), tuple(float(v) for v in sp * f), tuple(float(v) for v in np.asarray(geometry.origin_lps) + shift),
                        tuple(geometry.direction))
    return out.astype(np.float32), geo

