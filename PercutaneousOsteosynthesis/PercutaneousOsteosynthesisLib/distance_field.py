"""Signed distance fields (mm) of binary masks, multithreaded (SimpleITK's Maurer transform)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .geometry import ImageGeometry
from .volume_io import image_from_array

# Voxel-centre distances overestimate the distance to the (sub-voxel) surface by about this fraction of a
# voxel on average; calibrated on spheres and oblique planes (99th percentile error 0.42 voxel).
SURFACE_OFFSET_VOXELS = 0.4


def _unsigned_distance(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Distance (mm) from every voxel outside ``mask`` to the nearest voxel centre inside it (0 inside)."""
    img = image_from_array(mask.view(np.uint8), geometry)
    # squared distances are ~30 % faster to compute; the square root is taken once here
    d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=True, useImageSpacing=True,
                                     backgroundValue=0)
    out = sitk.GetArrayFromImage(d)
    del d
    out = out.astype(np.float32, copy=False)
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    return out


def signed_distance_mm(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Signed distance (mm, float32, negative inside) from each voxel centre to the surface of ``mask``.

    The surface is taken between voxel centres: outside voxels get their distance to the nearest inside
    centre, inside voxels minus their distance to the nearest outside centre, each reduced by
    ``SURFACE_OFFSET_VOXELS`` of the smallest spacing.
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    off = SURFACE_OFFSET_VOXELS * float(min(geometry.spacing))
    outside = _unsigned_distance(mask, geometry)
    inside = _unsigned_distance(np.logical_not(mask), geometry)
    sdf = outside
    sdf -= inside
    sdf[mask] += off
    sdf[~mask] -= off
    return sdf
