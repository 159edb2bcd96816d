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
    img = image_from_array(mask.astype(np.uint8), geometry)
    d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True,
                                     backgroundValue=0)
    out = sitk.GetArrayViewFromImage(d).astype(np.float32)
    np.maximum(out, 0.0, out=out)
    return out


def signed_distance_mm(mask: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Signed distance (mm, float32, negative inside) from each voxel centre to the surface of ``mask``.

    The surface is taken between voxel centres: outside voxels get their distance to the nearest inside
    centre, inside voxels minus their distance to the nearest outside centre, each reduced by
    ``SURFACE_OFFSET_VOXELS`` of the smallest spacing.
    """
    mask = mask.astype(bool, copy=False)
    off = SURFACE_OFFSET_VOXELS * float(min(geometry.spacing))
    outside = _unsigned_distance(mask, geometry)
    inside = _unsigned_distance(~mask, geometry)
    sdf = outside
    sdf -= inside
    sdf[mask] += off
    sdf[~mask] -= off
    return sdf
