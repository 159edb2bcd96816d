"""Bounding boxes (in voxels) of masks: the smallest ``[k, j, i]`` slices holding their nonzero voxels."""

from __future__ import annotations

import numpy as np


def nonzero_ranges(mask: np.ndarray) -> list[np.ndarray] | None:
    """Per axis (k, j, i): the indices of the slices holding a nonzero voxel of a 3D mask (bool or integer); None when
    there is none."""
    k = np.flatnonzero(mask.any(axis=(1, 2)))
    if not len(k):
        return None
    ji = mask[k[0]:k[-1] + 1].any(axis=0)  # two passes over the mask, not three
    return [k, np.flatnonzero(ji.any(axis=1)), np.flatnonzero(ji.any(axis=0))]


def bounding_box(mask: np.ndarray, pad=0) -> tuple[slice, ...] | None:
    """``[k, j, i]`` slices of the mask's nonzero voxels grown by ``pad`` voxels (one int or per axis k, j, i) and
    clipped to the array; None for an empty mask."""
    nz = nonzero_ranges(mask)
    if nz is None:
        return None
    pads = np.broadcast_to(np.asarray(pad, int), (3,))
    return tuple(slice(max(0, int(n[0]) - int(p)), min(size, int(n[-1]) + int(p) + 1)) for n, p, size in zip(nz, pads, mask.shape))


def grown_box(box: tuple, pad, shape) -> tuple[slice, ...]:
    """``box`` (slices k, j, i) grown by ``pad`` voxels (one int or per axis k, j, i), clipped to an array of ``shape``."""
    pads = np.broadcast_to(np.asarray(pad, int), (3,))
    return tuple(slice(max(0, b.start - int(p)), min(n, b.stop + int(p))) for b, p, n in zip(box, pads, shape))
