"""Joints between the bones of the model: the sacroiliac joint gaps meant to be crossed, and joint spaces that a
coarse scan blurs above the bone threshold (found as dark valleys between two brighter plates)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from ..geometry import morphology
from ..geometry.bounding_box import grown_box
from ..geometry.frames import ImageGeometry
from ..geometry.morphology import ball_radius_voxels as _ball_radius
from ..geometry.voxel_index import nonzero_kji
from .labels import SOFT_TISSUE_HU

MIN_VALLEY_DEPTH = 0.2  # a joint space is darker than its plates by this fraction of their contrast at least


def _pair_box(a, b, r, shape):
    """Intersection of two boxes each grown by r (kji), or None."""
    ga, gb = grown_box(a, r, shape), grown_box(b, r, shape)
    out = tuple(slice(max(x.start, y.start), min(x.stop, y.stop)) for x, y in zip(ga, gb))
    return out if all(s.stop > s.start for s in out) else None


def crossable_joints(env_labels: np.ndarray, comps: list, geometry: ImageGeometry, params) -> np.ndarray:
    """Mask of the sacroiliac joint gaps (see module docstring); all work is done in the pair's bounding box."""
    joint = np.zeros(env_labels.shape, bool)
    if len(comps) < 2:
        return joint
    x_mid = 0.5 * (min(c["bounds_lps"][0][0] for c in comps) + max(c["bounds_lps"][1][0] for c in comps))
    y_mid = float(np.average([c["centroid_lps"][1] for c in comps], weights=[c["volume_ml"] for c in comps]))
    midline = [c for c in comps if c["bounds_lps"][0][0] < x_mid < c["bounds_lps"][1][0]]
    lateral = [c for c in comps if c not in midline]
    r = _ball_radius(0.5 * params.joint_max_gap_mm + 0.5 * max(geometry.spacing), geometry.spacing)[::-1]  # k, j, i
    for m in midline:
        for lat in lateral:
            pair = _pair_box(m["box"], lat["box"], r, env_labels.shape)
            if pair is None:
                continue
            work = grown_box(pair, [2 * v for v in r], env_labels.shape)  # room for the dilation and the closing
            sub = env_labels[work]
            a, b = sub == m["label"], sub == lat["label"]
            gap = morphology.dilate(a, r) & morphology.dilate(b, r) & (sub == 0)
            if gap.sum() * geometry.voxel_volume_mm3 < 50.0:
                continue
            # keep only what lies between the two bones (their closing), not the rim bulging around the joint
            closed = morphology.close(a | b, r)
            gap &= closed
            if not gap.any():
                continue
            kji = nonzero_kji(gap).mean(axis=0) + [w.start for w in work]
            centre = geometry.ijk_to_lps(kji[::-1])
            if centre[1] >= y_mid and abs(centre[0] - x_mid) > 15.0:  # posterior and lateral: sacroiliac
                joint[work] |= gap
                m["name"] = "sacrum"
                lat.setdefault("joins_sacrum", True)
    return joint


def _along(a: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """``a[start:stop]`` along ``axis``."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


def _plates(hu: np.ndarray, axis: int, reach: int) -> np.ndarray:
    """Per voxel, along ``axis``: the darker of the brightest voxels within ``reach`` voxels before and after it
    (-1000 HU at least; beyond the array, -1000).  Both are one running maximum over ``reach`` voxels of the HU padded
    by -1000, read ``reach`` voxels back and one voxel ahead; the running maximum by doubling windows."""
    n = hu.shape[axis]
    shape = list(hu.shape)
    shape[axis] = n + 2 * reach
    padded = np.full(shape, -1000.0, np.float32)
    inner = _along(padded, axis, reach, reach + n)
    inner[...] = hu
    np.maximum(inner, -1000.0, out=inner)
    window, span = padded, 1  # window[s]: the maximum of padded[s:s + span]
    while 2 * span <= reach:
        length = window.shape[axis]
        window = np.maximum(_along(window, axis, 0, length - span), _along(window, axis, span, length))
        span *= 2
    if span < reach:  # two overlapping windows of span cover reach
        length = window.shape[axis]
        window = np.maximum(_along(window, axis, 0, length - (reach - span)), _along(window, axis, reach - span, length))
    # window[s] = max(padded[s:s + reach]): before voxel i (padded index i + reach) it is window[i], after it window[i + reach + 1]
    return np.minimum(_along(window, axis, 0, n), _along(window, axis, reach + 1, reach + 1 + n))


def joint_reach_voxels(coarse_mm: float, spacing_kji, params) -> list[int]:
    """Half a joint's width plus one original voxel (``coarse_mm``; one voxel on a native grid), in voxels per axis."""
    return [max(1, int(round((0.5 * params.joint_max_gap_mm + coarse_mm) / sp))) for sp in spacing_kji]


def joint_valleys(hu: np.ndarray, candidate: np.ndarray, coarse_mm: float, spacing_kji, params) -> np.ndarray:
    """Candidate voxels lying in a thin dark sheet between two brighter plates (a joint space blurred by a coarse
    scan): along some axis, darker by more than a fifth of the contrast than the brightest voxel within half the
    joint width + one original voxel on both sides."""
    valley = np.zeros(candidate.shape, bool)
    for axis, reach in enumerate(joint_reach_voxels(coarse_mm, spacing_kji, params)):
        low = _plates(hu, axis, reach)
        valley |= candidate & (low - hu > (low - SOFT_TISSUE_HU) * MIN_VALLEY_DEPTH) & (low >= params.coarse_bone_threshold_hu)
    return valley


def valley_depth(hu: np.ndarray, reach_kji, bone_threshold_hu: float) -> np.ndarray:
    """Per voxel: how much darker it is than the plates on both sides (see :func:`_plates`) along the axis where it is
    most, as a fraction of the plates' contrast with soft tissue; 0 where no plate reaches ``bone_threshold_hu``.  The
    axes two at a time (numpy releases the GIL)."""
    def along(axis_reach):
        low = _plates(hu, *axis_reach)
        d = low - hu  # the same float32 operations as (low - hu) / max(low - soft tissue, 1), with fewer temporaries
        contrast = low - SOFT_TISSUE_HU
        np.maximum(contrast, 1.0, out=contrast)
        np.divide(d, contrast, out=d)
        del contrast
        np.copyto(d, 0.0, where=low < bone_threshold_hu)
        return d

    depth = np.zeros(hu.shape, np.float32)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for d in pool.map(along, enumerate(reach_kji)):
            np.maximum(depth, d, out=depth)
    return depth


def readd_one_sided(labels_cc: np.ndarray, valley: np.ndarray, coarse_mm: float, geometry: ImageGeometry) -> np.ndarray:
    """Give back the valley voxels that only one bone lies near (dark spots inside a cortex), so that shells stay
    closed; valley voxels between two bones stay out: the joint space."""
    size = [2 * max(1, int(round(coarse_mm / s))) + 1 for s in geometry.spacing[::-1]]
    top = ndimage.maximum_filter(labels_cc, size=size)
    big = np.iinfo(labels_cc.dtype).max if np.issubdtype(labels_cc.dtype, np.integer) else 1e9
    bottom = ndimage.minimum_filter(np.where(labels_cc > 0, labels_cc, big), size=size)
    one = valley & (top > 0) & (top == bottom)
    labels_cc[one] = top[one]
    return labels_cc
