"""The bone envelope's voxel steps (arrays [k, j, i], sizes in voxels from millimetres by the caller): the candidate
bone's connected components, each closed and filled on its own, the surface placed at the cortex edge's mid-level,
and the label map."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..fileio.volume import image_from_array
from ..geometry import morphology
from ..geometry.bounding_box import bounding_box
from ..geometry.frames import ImageGeometry
from .labels import CANCELLOUS, CORTEX, JOINT, METAL, SOFT_TISSUE_HU


def fill_component(mask: np.ndarray, touches_border: list[tuple[int, int]], radius: list[int], others: np.ndarray | None = None,
                   spacing_kji=None, gap_mm: float = 0.0) -> np.ndarray:
    """Close and fill one component's mask (a crop); faces cut by the image border are filled in 2D first.
    (Oblique tunnels such as the sacral canal may be filled here; bone.nogo finds them from the CT.)
    ``others``: the other components' candidate voxels in the crop; what the fill added within ``gap_mm`` of those it does
    not enclose, and facing them, is a joint space, and is left out (:func:`_facing_other_bone`)."""
    pad = max(radius) + 1
    m = morphology.close(np.pad(mask, pad), radius[::-1])
    for axis, side in touches_border:
        idx = [slice(None)] * 3
        idx[axis] = pad if side == 0 else m.shape[axis] - pad - 1
        face = m[tuple(idx)]
        m[tuple(idx)] = ndimage.binary_fill_holes(face)
    # the 3D holes need no fill of their own: a cavity not reaching the box's border is enclosed in every slice
    # through it (its in-plane region lies in the cavity), so the slice majority holds it
    filled = morphology.slice_majority_holes(m)
    filled |= m
    out = filled[pad:-pad, pad:-pad, pad:-pad]
    if others is not None and gap_mm > 0:
        beside = others & ~out  # not what this bone encloses (an old implant in its marrow, a separate island)
        if beside.any():
            out &= ~_facing_other_bone(out & ~mask, mask, beside, spacing_kji, gap_mm)
    return out


def _facing_other_bone(added: np.ndarray, own: np.ndarray, others: np.ndarray, spacing_kji, gap_mm: float) -> np.ndarray:
    """The ``added`` voxels within ``gap_mm`` of an ``others`` voxel whose straight line to the nearest one meets no
    ``own`` voxel: the space between two bones (a joint the slice fill closed where the bowl of an acetabulum and the
    rami around it enclose it in two orientations), not marrow (behind the bone's own cortex or subchondral plate)."""
    sp = np.asarray(spacing_kji, float)
    out = np.zeros(added.shape, bool)
    box = bounding_box(others, [int(np.ceil(gap_mm / s)) for s in sp])
    if box is None or not added[box].any():
        return out
    dist, nearest = ndimage.distance_transform_edt(~others[box], sampling=sp, return_indices=True)
    near = added[box] & (dist <= gap_mm)
    kji = np.argwhere(near)
    if not len(kji):
        return out
    target = nearest[:, near].T  # the nearest other-bone voxel of each, in the same (raster) order
    steps = int(np.ceil(2.0 * float(dist[near].max()) / float(sp.min()))) + 2  # every half voxel along the line
    t = np.linspace(0.0, 1.0, steps)[1:-1]
    line = np.rint(kji[:, None, :] + t[None, :, None] * (target - kji)[:, None, :]).astype(np.intp)
    blocked = own[box][line[..., 0], line[..., 1], line[..., 2]].any(axis=1)
    facing = np.zeros(near.shape, bool)
    facing[tuple(kji[~blocked].T)] = True
    out[box] = facing
    return out


def candidate_components(candidate: np.ndarray, geometry: ImageGeometry, min_ml: float):
    """Connected components (6-connected) of at least ``min_ml``, labelled 1.. by decreasing size, in the smallest
    unsigned integer type that holds their count.  Labelled in the candidate's bounding box only (a crop keeps the
    components' raster order, so their labels): the margin around it holds none."""
    box = bounding_box(candidate)
    if box is None:
        return np.zeros(candidate.shape, np.uint8)
    img = image_from_array(candidate[box].view(np.uint8), geometry)
    relabel = sitk.RelabelComponentImageFilter()
    relabel.SetMinimumObjectSize(int(np.ceil(min_ml * 1000 / geometry.voxel_volume_mm3)))
    cc = relabel.Execute(sitk.ConnectedComponent(img, False))
    del img
    n = relabel.GetNumberOfObjects()
    pixel = {1: sitk.sitkUInt8, 2: sitk.sitkUInt16}.get(np.min_scalar_type(n).itemsize)
    if pixel is not None:
        cc = sitk.Cast(cc, pixel)
    out = np.zeros(candidate.shape, sitk.GetArrayViewFromImage(cc).dtype)
    out[box] = sitk.GetArrayViewFromImage(cc)
    return out


def place_surface(env_labels: np.ndarray, hu: np.ndarray, cortex_threshold_hu: float, coarse_mm: float, working: ImageGeometry):
    """Put the envelope's surface at the cortex edge's mid-level instead of at the low candidate threshold.

    Native grid: the outer voxel layer stays bone only where dense (``cortex_threshold_hu``). Interpolated coarse
    CT (``coarse_mm`` > 0, its largest original spacing): the edge is spread over about one original voxel; the
    outer layer as thick as half an original voxel stays bone only above the local mid-level between soft tissue
    and the brightest bone within that distance, and never below the cortex threshold."""
    if coarse_mm <= 0:  # in the envelope's box grown by one (background) layer: the same erosion as on the whole grid
        box = bounding_box(env_labels, 1)
        sub = env_labels[box]
        band = sub > 0
        band &= ~morphology.erode(band, 1)
        band &= hu[box] < cortex_threshold_hu
        np.copyto(sub, 0, where=band)
        return
    envelope = env_labels > 0
    size = [2 * max(1, int(round(0.5 * coarse_mm / s))) + 1 for s in working.spacing[::-1]]  # k, j, i
    local_bone = ndimage.maximum_filter(np.where(envelope, hu, -1000.0), size=size)
    mid = 0.5 * (local_bone + SOFT_TISSUE_HU)
    outer = envelope & ~morphology.erode(envelope, 1)
    deep = envelope & ~ndimage.binary_erosion(envelope, structure=np.ones(size, bool))
    # the outer layer as on a native grid (dense or not); deeper, only what lies below the edge's mid-level: a dense
    # cortex is spread outward by about half an original voxel, a thin one (low peak) by about one working voxel
    env_labels[(outer & (hu < np.maximum(mid, cortex_threshold_hu))) | (deep & (hu < mid))] = 0


def label_map(env_labels: np.ndarray, hu: np.ndarray, joint: np.ndarray, cortex_threshold_hu: float,
              metal_threshold_hu: float) -> np.ndarray:
    """The label map: the envelope cancellous, cortex where dense, metal anywhere, then joints; built in place in
    one uint8 array (the envelope's mask) with one more mask, not a temporary per label; two slabs at once (numpy
    releases the GIL)."""
    labels = np.empty(env_labels.shape, np.uint8)

    def slab(ks: slice):
        envelope = labels[ks].view(bool)
        np.not_equal(env_labels[ks], 0, out=envelope)
        mask = np.greater_equal(hu[ks], cortex_threshold_hu)
        mask &= envelope
        out = labels[ks]
        out *= CANCELLOUS
        np.copyto(out, CORTEX, where=mask)
        np.greater_equal(hu[ks], metal_threshold_hu, out=mask)
        np.copyto(out, METAL, where=mask)
        np.copyto(out, JOINT, where=joint[ks])

    half = labels.shape[0] // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(slab, [slice(0, half), slice(half, labels.shape[0])]))
    return labels
