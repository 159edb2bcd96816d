"""The greater sciatic notch as a no-go structure (LPS mm): the sciatic nerve and the superior gluteal vessels leave
the pelvis through it, against the bone of its apex. A supra-acetabular (LC-II) or posterior-column screw aimed too
far back or down, or cement leaking there, reaches them.

Found as radiologists see it, on the lateral view of the hip bone: the hip bone (a separate bone of the model, with
its femoral head recognised, which gives the acetabulum's centre) is projected onto the sagittal (y, z) plane on a
``VIEW_GRID_MM`` grid and its holes filled (the obturator foramen). A closing of that outline by a disc of
``CLOSING_RADIUS_MM`` adds the bays of its border; the notch is the largest bay behind the acetabulum
(``POSTERIOR_MIN_MM``) whose centre lies within ``LEVEL_MM`` of the acetabulum's height. In 3D the notch is the
soft tissue whose projection lies in that bay, between the medial and lateral limits of the bone around the bay: kept
as grid points each with its distance to the bone as a half width, so that a screw's clearance to it
(``NogoStructure.clearance_mm``) is measured to the notch's bony wall. Not assessed where the hip bone is not a
separate bone or no femoral head is recognised.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .nogo import NEURAL, NogoStructure

CLOSING_RADIUS_MM = 30.0
VIEW_GRID_MM = 1.5
MIN_NOTCH_AREA_MM2 = 150.0
POSTERIOR_MIN_MM = 10.0  # the bay's centre lies at least this far behind the acetabulum's centre
LEVEL_MM = (-40.0, 60.0)  # ... and this far below/above it
RIM_MM = 10.0  # the bone within this of the bay (in the view) gives the notch's medial and lateral limits


def _lateral_view(points_lps: np.ndarray, margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(filled silhouette [y, z] on the view grid, LPS (y, z) of pixel [0, 0]) of points seen from the side."""
    yz = points_lps[:, 1:]
    origin = yz.min(axis=0) - margin_mm
    idx = np.floor((yz - origin) / VIEW_GRID_MM + 0.5).astype(int)
    sil = np.zeros(tuple(idx.max(axis=0) + int(np.ceil(margin_mm / VIEW_GRID_MM)) + 1), bool)
    sil[idx[:, 0], idx[:, 1]] = True
    sil = ndimage.binary_closing(sil, iterations=1)  # voxels coarser than the view grid leave pinholes
    return ndimage.binary_fill_holes(sil), origin


def _disc_closing(mask: np.ndarray, radius_mm: float) -> np.ndarray:
    dilated = ndimage.distance_transform_edt(~mask) * VIEW_GRID_MM <= radius_mm
    return ndimage.distance_transform_edt(dilated) * VIEW_GRID_MM > radius_mm


def notch_points_lps(bone, comp: dict, head_centre_lps) -> tuple[np.ndarray, np.ndarray]:
    """(LPS points, their distance to the bone in mm) of the greater sciatic notch of the hip bone ``comp`` (a
    component dict of ``bone``); empty arrays when no bay of its lateral view qualifies."""
    g = bone.geometry
    pts = bone.component_points_lps(comp)
    margin = CLOSING_RADIUS_MM + 3.0 * VIEW_GRID_MM
    sil, origin = _lateral_view(pts, margin)
    bays = _disc_closing(sil, CLOSING_RADIUS_MM) & ~sil
    lab, count = ndimage.label(bays, structure=np.ones((3, 3), bool))
    head = np.asarray(head_centre_lps, float)
    best, best_area = 0, MIN_NOTCH_AREA_MM2
    for k, (sy, sz) in enumerate(ndimage.find_objects(lab), start=1):
        yy, zz = np.nonzero(lab[sy, sz] == k)
        area = len(yy) * VIEW_GRID_MM ** 2
        cy = origin[0] + (yy.mean() + sy.start) * VIEW_GRID_MM
        cz = origin[1] + (zz.mean() + sz.start) * VIEW_GRID_MM
        if cy - head[1] >= POSTERIOR_MIN_MM and LEVEL_MM[0] <= cz - head[2] <= LEVEL_MM[1] and area >= best_area:
            best, best_area = k, area
    if best == 0:
        return np.zeros((0, 3)), np.zeros(0)
    bay = lab == best
    rim = (ndimage.distance_transform_edt(~bay) * VIEW_GRID_MM <= RIM_MM) & sil
    idx = np.floor((pts[:, 1:] - origin) / VIEW_GRID_MM + 0.5).astype(int)
    near = rim[idx[:, 0], idx[:, 1]]
    x = np.arange(pts[near, 0].min(), pts[near, 0].max() + 0.5 * VIEW_GRID_MM, VIEW_GRID_MM)
    py, pz = np.nonzero(bay)
    yz = origin + np.column_stack([py, pz]) * VIEW_GRID_MM
    cand = np.column_stack([np.repeat(x, len(yz)), np.tile(yz, (len(x), 1))])
    cand = cand[g.contains_lps(cand)]
    sdf = bone.signed_distance_lps(cand)
    keep = sdf > 0
    return cand[keep], sdf[keep]


def find_sciatic_notches(bone, heads: dict) -> list[NogoStructure]:
    """One no-go structure per side with a separate hip bone and a recognised femoral head (``heads``:
    bone.femoral_head.recognised_heads): "left greater sciatic notch", "right greater sciatic notch"."""
    out = []
    for side, head in heads.items():
        comp = next((c for c in bone.components if c.get("kind") == "hip bone" and c.get("side") == side), None)
        if comp is None or bone.component_labels is None:
            continue
        pts, depth = notch_points_lps(bone, comp, head.centre_lps)
        if len(pts):
            out.append(NogoStructure(f"{side} greater sciatic notch", pts, float(depth.max()), kind=NEURAL,
                                     half_widths_mm=depth))
    return out
