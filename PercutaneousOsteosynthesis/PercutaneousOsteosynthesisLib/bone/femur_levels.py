"""Levels of the proximal femur along the patient's superior axis (LPS z, mm), from the femur's own cross-sections.

The trochanteric region is the femur's wide top (head, neck, greater and lesser trochanters); below it the femur
narrows to its shaft. ``trochanteric_end_z_lps`` is the top of the femur's narrow part: going up from the shaft (the
median cross-section of the lowest ``SHAFT_SAMPLE_MM`` above its end: where a femur ends inside the scan, its rounded
end, whose sections grow by more than ``END_GROWTH`` per bin going up, is not shaft; nor is a last slice cut through a
bin), the level where the horizontal cross-section first exceeds
``SHAFT_AREA_FACTOR`` times the shaft's: the lower end of the lesser trochanter's flare, the boundary between the peritrochanteric
and the subtrochanteric femur (Mirels). None when the scan does not reach the shaft.
"""

from __future__ import annotations

import numpy as np

SHAFT_AREA_FACTOR = 1.25
SHAFT_SAMPLE_MM = 20.0
END_GROWTH = 1.05  # a section this much larger than the one below it: still the femur's rounded end
BIN_MM = 2.0
SUBTROCHANTERIC_MM = 50.0  # the subtrochanteric femur: this far below the lesser trochanter


def cross_section_areas(points_lps: np.ndarray, voxel_volume_mm3: float) -> tuple[np.ndarray, np.ndarray]:
    """(z centres of BIN_MM bins, horizontal cross-section area in mm^2) of a set of voxel centres."""
    z = points_lps[:, 2]
    edges = np.arange(np.floor(z.min()), z.max() + BIN_MM, BIN_MM)
    counts, edges = np.histogram(z, bins=edges)
    return 0.5 * (edges[:-1] + edges[1:]), counts * voxel_volume_mm3 / BIN_MM


def trochanteric_end_z_lps(bone, comp: dict, head_centre_z_lps: float) -> float | None:
    """See the module docstring."""
    pts = bone.component_points_lps(comp)
    if len(pts) == 0:
        return None
    zc, area = cross_section_areas(pts, bone.geometry.voxel_volume_mm3)
    growing = area[1:] > END_GROWTH * area[:-1]
    start = int(np.argmin(growing)) if not growing.all() else len(zc) - 1  # the first bin the next one does not outgrow
    low = (zc >= zc[start]) & (zc < zc[start] + SHAFT_SAMPLE_MM)
    below_head = zc < head_centre_z_lps
    if low.sum() < 3 or (zc.max() - zc.min()) < 2 * SHAFT_SAMPLE_MM:
        return None
    shaft = float(np.median(area[low]))
    wide = np.flatnonzero((area > SHAFT_AREA_FACTOR * shaft) & below_head)
    if len(wide) == 0:
        return None
    # the top of the narrow run that holds the shaft: the level just below the lowest wide section
    end = int(wide[0]) - 1
    return float(zc[end] + 0.5 * BIN_MM) if end >= 0 and not low[min(end + 1, len(low) - 1)] else None
