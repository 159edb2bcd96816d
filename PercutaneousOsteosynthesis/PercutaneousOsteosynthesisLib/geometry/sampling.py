"""Fast trilinear sampling of voxel arrays at LPS points."""

from __future__ import annotations

import numpy as np

from .frames import ImageGeometry


def _flat_view(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D array holding every voxel of a ``[k, j, i]`` array and the (i, j, k) steps between voxels in it: a view
    of the array's memory when its strides allow (a crop of a larger volume is not copied), else a copy."""
    steps = [st // array.itemsize for st in array.strides]
    if array.size and not array.flags.c_contiguous and all(st > 0 and st % array.itemsize == 0 for st in array.strides):
        span = 1 + sum((n - 1) * st for n, st in zip(array.shape, steps))
        flat = np.lib.stride_tricks.as_strided(array, shape=(span,), strides=(array.itemsize,), writeable=False)
        return flat, np.array(steps[::-1], dtype=np.int64)
    nk, nj, ni = array.shape
    return array.reshape(-1), np.array([1, ni, ni * nj], dtype=np.int64)


class VolumeSampler:
    """Samples a ``[k, j, i]`` array at LPS points by trilinear interpolation.

    The LPS->index affine is precomputed, and points outside the grid get ``outside_value``.  Meant for
    hot paths (the per-drag screw check): one call for a few hundred points costs tens of microseconds.
    """

    def __init__(self, array: np.ndarray, geometry: ImageGeometry, outside_value: float = 0.0):
        self.array = array
        self.geometry = geometry
        self.outside_value = float(outside_value)
        a = geometry.direction_matrix @ np.diag(geometry.spacing)
        self._a_inv = np.linalg.inv(a)
        self._origin = np.asarray(geometry.origin_lps, float)
        nk, nj, ni = array.shape
        self._shape = np.array([ni, nj, nk])
        self._flat, self._strides = _flat_view(array)

    def index_of(self, points_lps) -> np.ndarray:
        """Continuous (i, j, k) indices of LPS points (..., 3)."""
        return (np.asarray(points_lps, float) - self._origin) @ self._a_inv.T

    def __call__(self, points_lps) -> np.ndarray:
        """Trilinear values at LPS points (N, 3) -> (N,)."""
        ijk = self.index_of(np.asarray(points_lps, float).reshape(-1, 3))
        return self.sample_index(ijk)

    def sample_index(self, ijk: np.ndarray) -> np.ndarray:
        """Trilinear values at continuous indices (N, 3) in (i, j, k) order."""
        out = np.full(len(ijk), self.outside_value, dtype=np.float64)
        hi = self._shape - 1
        inside = np.all((ijk >= 0) & (ijk <= hi), axis=1)
        if not inside.any():
            return out
        q = ijk[inside]
        base = np.minimum(np.floor(q).astype(np.int64), np.maximum(hi - 1, 0))
        f = q - base
        idx0 = base @ self._strides
        v = self._flat
        fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
        sx, sy, sz = self._strides
        if self._shape[0] == 1:
            sx = 0
        if self._shape[1] == 1:
            sy = 0
        if self._shape[2] == 1:
            sz = 0
        c00 = v[idx0] * (1 - fx) + v[idx0 + sx] * fx
        c10 = v[idx0 + sy] * (1 - fx) + v[idx0 + sy + sx] * fx
        c01 = v[idx0 + sz] * (1 - fx) + v[idx0 + sz + sx] * fx
        c11 = v[idx0 + sz + sy] * (1 - fx) + v[idx0 + sz + sy + sx] * fx
        c0 = c00 * (1 - fy) + c10 * fy
        c1 = c01 * (1 - fy) + c11 * fy
        out[inside] = c0 * (1 - fz) + c1 * fz
        return out

    def nearest_index(self, points_lps) -> tuple[np.ndarray, np.ndarray]:
        """Nearest voxel (k, j, i) index arrays for LPS points and a mask of those inside the grid."""
        ijk = np.rint(self.index_of(np.asarray(points_lps, float).reshape(-1, 3))).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < self._shape), axis=1)
        return ijk[:, ::-1], inside
