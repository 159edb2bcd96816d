"""Signed distance fields (mm) of binary masks, multithreaded (SimpleITK's Maurer transform)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..fileio.volume import image_from_array
from ..geometry.frames import ImageGeometry

# Voxel-centre distances overestimate the distance to the (sub-voxel) surface by about this fraction of a
# voxel on average; calibrated on spheres and oblique planes (99th percentile error 0.42 voxel).
SURFACE_OFFSET_VOXELS = 0.4


def _unsigned_distance(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Distance (mm) from every voxel outside ``mask`` to the nearest voxel centre inside it (0 inside)."""
    img = image_from_array(mask.view(np.uint8), geometry)
    # squared distances are ~30 % faster to compute; the square root is taken once here
    d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=True, useImageSpacing=True,
                                     backgroundValue=0)
    view = sitk.GetArrayViewFromImage(d)  # no copy; ``d`` stays alive until the result is computed
    out = np.maximum(view, 0.0, dtype=np.float32)
    np.sqrt(out, out=out)
    del view, d
    return out


def signed_distance_mm(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Signed distance (mm, float32, negative inside) from each voxel centre to the surface of ``mask``.

    The surface is taken between voxel centres: outside voxels get their distance to the nearest inside
    centre, inside voxels minus their distance to the nearest outside centre, each reduced by
    ``SURFACE_OFFSET_VOXELS`` of the smallest spacing.  Voxels beyond the array count as outside only through the
    array's own outside voxels (as before: the grid is a crop with a margin around the bone).
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    off = SURFACE_OFFSET_VOXELS * float(min(geometry.spacing))
    sdf = _unsigned_distance(mask, geometry)  # 0 inside the mask
    sdf -= off  # outside voxels done; inside voxels now read -off
    if mask.any():
        # inside distances only matter inside the mask: compute them in its bounding box plus one background layer
        nz = [np.flatnonzero(mask.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
        box = tuple(slice(max(0, int(n[0]) - 1), min(size, int(n[-1]) + 2)) for n, size in zip(nz, mask.shape))
        sub = mask[box]
        background = np.logical_not(sub)
        if background.any():
            sub_geo = geometry.cropped([b.start for b in box[::-1]], [b.stop for b in box[::-1]])
            inside = _unsigned_distance(background, sub_geo)  # 0 on the background
        else:  # the mask fills its whole box (touches every side): no background inside
            inside = np.zeros(sub.shape, np.float32)
        # inside voxels: -off - inside + 2 off = -(inside - off); background voxels unchanged (inside = 0 there)
        inside -= np.multiply(sub, 2.0 * off, dtype=np.float32)
        region = sdf[box]
        np.subtract(region, inside, out=region)
    return sdf
