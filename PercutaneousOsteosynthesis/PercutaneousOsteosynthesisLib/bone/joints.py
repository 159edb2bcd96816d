"""Joints between the bones of the model: the sacroiliac joint gaps meant to be crossed, and joint spaces that a
coarse scan blurs above the bone threshold (found as dark valleys between two brighter plates)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import morphology
from ..geometry.frames import ImageGeometry
from ..geometry.morphology import ball_radius_voxels as _ball_radius
from .labels import SOFT_TISSUE_HU

MIN_VALLEY_DEPTH = 0.2  # a joint space is darker than its plates by this fraction of their contrast at least


def _grown(box, r, shape):
    return tuple(slice(max(0, b.start - ri), min(n, b.stop + ri)) for b, ri, n in zip(box, r, shape))


def _pair_box(a, b, r, shape):
    """Intersection of two boxes each grown by r (kji), or None."""
    ga, gb = _grown(a, r, shape), _grown(b, r, shape)
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
            work = _grown(pair, [2 * v for v in r], env_labels.shape)  # room for the dilation and the closing
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
            kji = np.argwhere(gap).mean(axis=0) + [w.start for w in work]
            centre = geometry.ijk_to_lps(kji[::-1])
            if centre[1] >= y_mid and abs(centre[0] - x_mid) > 15.0:  # posterior and lateral: sacroiliac
                joint[work] |= gap
                m["name"] = "sacrum"
                lat.setdefault("joins_sacrum", True)
    return joint


def _plates(hu: np.ndarray, axis: int, reach: int) -> np.ndarray:
    """Per voxel, along ``axis``: the darker of the brightest voxels within ``reach`` voxels before and after it."""
    n = hu.shape[axis]
    before = np.full(hu.shape, -1000.0, np.float32)
    after = np.full(hu.shape, -1000.0, np.float32)
    for t in range(1, min(reach, n - 1) + 1):
        dst_b = [slice(None)] * 3
        src_b = [slice(None)] * 3
        dst_b[axis], src_b[axis] = slice(t, n), slice(0, n - t)
        np.maximum(before[tuple(dst_b)], hu[tuple(src_b)], out=before[tuple(dst_b)])
        np.maximum(after[tuple(src_b)], hu[tuple(dst_b)], out=after[tuple(src_b)])
    return np.minimum(before, after)


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
    most, as a fraction of the plates' contrast with soft tissue; 0 where no plate reaches ``bone_threshold_hu``."""
    depth = np.zeros(hu.shape, np.float32)
    for axis, reach in enumerate(reach_kji):
        low = _plates(hu, axis, reach)
        d = (low - hu) / np.maximum(low - SOFT_TISSUE_HU, 1.0)
        d[low < bone_threshold_hu] = 0.0
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
