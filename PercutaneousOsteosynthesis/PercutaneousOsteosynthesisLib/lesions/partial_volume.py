"""The partial-volume edge of a lytic lesion: its voxels at the edge count for the fraction of lesion their HU says.

A CT voxel at the lesion's edge holds lesion and the bone around it, and reads the mix of their HU; on a coarse CT
(area-averaged thick voxels, interpolated to the working grid) the edge is spread over about one original voxel.
A threshold at the midpoint of the two levels misses part of a small convex lesion (the blurred edge of a ball
reads above the midpoint at its true surface) and depends on how far the surroundings' level was sampled.
Here the voxels within one original voxel of the lesion's edge, inside the lesion's region, each count for
``(B - HU) / (B - L)`` of a voxel (clipped to 0..1; L the lesion's level: its core deeper than the band, B its
surroundings' level: the cancellous bone beyond the band); the mask keeps the lesion's core and that many of the
band's lowest-HU voxels, so that the mask's volume is the partial-volume estimate and its edge an iso-surface.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry.bounding_box import bounding_box
from .growth import CONTRAST_RIM_MM, MIN_CONTRAST_HU

MIN_LEVEL_VOXELS = 20  # fewer core or surrounding voxels than this: no level, the mask is kept


def partial_volume_mask(mask, hu, region, surroundings, band_mm: float, sp) -> np.ndarray:
    """The lesion ``mask`` with its edge band (``band_mm`` either side of its surface, inside ``region``) replaced by
    as many of the band's lowest-HU voxels as its partial-volume fractions add up to; ``surroundings``: the voxels
    whose level is the background (cancellous bone), sampled from ``band_mm`` to ``band_mm + CONTRAST_RIM_MM``
    beyond the lesion."""
    box = bounding_box(mask, [int(np.ceil((band_mm + CONTRAST_RIM_MM) / s)) + 1 for s in sp])
    if box is None:
        return mask
    out = mask.copy()
    out[box] = _edge_by_fractions(mask[box], hu[box], region[box], surroundings[box], band_mm, sp)
    return out


def _edge_by_fractions(mask, hu, region, surroundings, band_mm: float, sp) -> np.ndarray:
    """:func:`partial_volume_mask` in a box holding the lesion and its surroundings' shell."""
    depth_in = ndimage.distance_transform_edt(mask, sampling=sp)
    dist_out = ndimage.distance_transform_edt(~mask, sampling=sp)
    core = depth_in > band_mm
    shell = surroundings & ~mask & (dist_out > band_mm) & (dist_out <= band_mm + CONTRAST_RIM_MM)
    lesion_voxels = core if core.sum() >= MIN_LEVEL_VOXELS else mask
    if shell.sum() < MIN_LEVEL_VOXELS or lesion_voxels.sum() < MIN_LEVEL_VOXELS:
        return mask
    low, high = float(np.median(hu[lesion_voxels])), float(np.median(hu[shell]))
    if high - low < MIN_CONTRAST_HU:
        return mask
    band = region & ~core & (dist_out <= band_mm)
    values = hu[band]
    n = int(round(float(np.clip((high - values) / (high - low), 0.0, 1.0).sum())))
    keep = np.zeros(len(values), bool)
    keep[np.argsort(values, kind="stable")[:n]] = True
    out = core.copy()
    out[band] = keep
    return out
