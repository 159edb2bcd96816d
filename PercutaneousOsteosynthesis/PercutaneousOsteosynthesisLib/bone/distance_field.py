"""Signed distance fields (mm) of binary masks, from exact distance transforms (:mod:`geometry.distance_transform`).

With the ``edt`` package both sides of the surface come from one pass (two threads; it holds the GIL meanwhile).
Without it (Slicer's Python), SimpleITK's Maurer transform runs twice at once (a worker thread; it releases the GIL):
outside on the whole grid, computed in place in its own output, and inside only in the mask's bounding box, its
distances written only into the mask's voxels (a small part of the grid around bone).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..geometry.bounding_box import bounding_box
from ..geometry.distance_transform import fast_transform_available, squared_depth_mm2, squared_distance_across_mm2
from ..geometry.frames import ImageGeometry

# Voxel-centre distances overestimate the distance to the (sub-voxel) surface by about this fraction of a
# voxel on average; calibrated on spheres and oblique planes (99th percentile error 0.42 voxel).
SURFACE_OFFSET_VOXELS = 0.4


def depth_mm(mask: np.ndarray, spacing_kji) -> np.ndarray:
    """Distance (mm, float32) from each voxel of a bool mask to the nearest voxel centre outside it (0 outside; voxels
    beyond the array do not count as outside), as ``scipy.ndimage.distance_transform_edt(mask, sampling)`` does."""
    out = squared_depth_mm2(mask, spacing_kji)
    return np.sqrt(out, out=out)


def _inside_depth(mask: np.ndarray, box: tuple, spacing_kji) -> tuple[np.ndarray, np.ndarray]:
    """(the mask within ``box``, bool; distance (mm, float32) from each of its voxels, in raster order, to the nearest
    voxel centre outside the mask): the inside transform, in the mask's bounding box grown by one layer (``box``)."""
    sub = mask[box] != 0
    if sub.all():  # the mask fills its whole box (touches every side): no background inside
        return sub, np.zeros(np.count_nonzero(sub), np.float32)
    return sub, np.sqrt(squared_depth_mm2(sub, spacing_kji)[sub])


def _signed_distance_one_pass(mask: np.ndarray, spacing_kji, off: float) -> np.ndarray:
    """:func:`signed_distance_mm` from both sides' distances in one pass (``edt``), with the same float32 operations in
    the same order as the two transforms' path (the same bits)."""
    inside = np.not_equal(mask, 0)
    sdf = squared_distance_across_mm2(inside, spacing_kji)
    np.sqrt(sdf, out=sdf)
    depth = sdf[inside]  # raster order
    depth -= np.float32(2.0 * off)
    sdf -= off  # outside voxels done
    # inside voxels: -off - (depth - 2 off) = -(depth - off), in this order as float32
    sdf[inside] = np.float32(-off) - depth
    return sdf


def signed_distance_mm(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Signed distance (mm, float32, negative inside) from each voxel centre to the surface of ``mask`` (bool, or
    uint8 labels: inside where nonzero, so that a label array needs no mask of its own).

    The surface is taken between voxel centres: outside voxels get their distance to the nearest inside
    centre, inside voxels minus their distance to the nearest outside centre, each reduced by
    ``SURFACE_OFFSET_VOXELS`` of the smallest spacing.  Voxels beyond the array count as outside only through the
    array's own outside voxels (as before: the grid is a crop with a margin around the bone).
    """
    if mask.dtype not in (np.bool_, np.uint8):
        mask = mask != 0
    sp = geometry.spacing[::-1]
    off = SURFACE_OFFSET_VOXELS * float(min(geometry.spacing))
    # inside distances only matter inside the mask: computed in its bounding box plus one background layer, in a
    # worker thread while the outside transform runs on the whole grid
    if fast_transform_available():
        return _signed_distance_one_pass(mask, sp, off)
    box = bounding_box(mask, 1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        inside = None if box is None else pool.submit(_inside_depth, mask, box, sp)
        # the field is the outside transform's own output: a fresh full-size array costs as much as the square roots
        sdf = squared_depth_mm2(mask == 0, sp)  # 0 inside the mask
        np.sqrt(sdf, out=sdf)
        sdf -= off  # outside voxels done; inside voxels now read -off
        if inside is not None:
            sub, depth = inside.result()
            depth -= np.float32(2.0 * off)
            # inside voxels: -off - (depth - 2 off) = -(depth - off), in this order as float32
            region = sdf[box]
            region[sub] = region[sub] - depth
    return sdf
