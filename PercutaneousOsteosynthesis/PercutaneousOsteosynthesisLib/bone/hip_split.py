"""Femurs joined to the pelvis across the hip joint (thin cortex averaged on a coarse CT, a narrowed arthritic
joint) separated again, so that they are recognised and the joint stays a breach.

Per side of a large bone component, the femoral head is sought as a sphere (radius ``HEAD_RADIUS_RANGE_MM``) carried
by the component's outer surface in its lower half: the part of the head outside the acetabulum (a Hough vote of
the surface points along their normals, as the head is a small part of that surface). It is accepted when its inliers cover
at least ``MIN_EXPOSED_FRACTION`` of the sphere's directions and the ball inside it is bone. Then, along
``N_DIRECTIONS`` rays from the head's centre, the CT is read across the head's surface: where it shows a joint —
a darker valley between two brighter plates (subchondral bone of the head, acetabular cortex), with bone beyond —
the envelope is cut along the valley (``CUT_HALF_WIDTH_MM`` either side). The neck crosses no such valley and stays
whole. When the cut separates the piece holding the head's centre, that piece becomes a bone of its own.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..geometry import morphology
from ..geometry.sampling import VolumeSampler
from .femoral_head import fit_sphere
from .hip_joint import sphere_directions

HEAD_RADIUS_RANGE_MM = (18.0, 32.0)
MIN_COMPONENT_ML = 150.0
MIN_EXPOSED_FRACTION = 0.2
MIN_LATERAL_MM = 40.0  # a femoral head lies this far from the midline at least
N_DIRECTIONS = 3000
VALLEY_SEARCH_MM = (-2.0, 6.0)  # around the head's surface, where the joint's valley is sought
PLATE_REACH_MM = 4.0  # the brighter plates within this distance on both sides of the valley
MIN_VALLEY_DEPTH_HU = 40.0
CUT_HALF_WIDTH_MM = 0.75
MIN_JOINT_FRACTION = 0.15  # of the directions around a femoral head: the acetabulum covers far more
RAY_STEP_MM = 0.5
MIN_FEMUR_TO_HEAD = 1.5  # the femur cut off holds at least this many head volumes (a head and its neck)


def _joint_valleys(hu_sampler, centre, radius, dirs):
    """Per direction: radius (mm) of the joint's valley across the head's surface, NaN where there is none."""
    rho = np.arange(radius + VALLEY_SEARCH_MM[0] - PLATE_REACH_MM, radius + VALLEY_SEARCH_MM[1] + PLATE_REACH_MM + 1e-9, RAY_STEP_MM)
    prof = hu_sampler((centre + dirs[:, None, :] * rho[None, :, None]).reshape(-1, 3)).reshape(len(dirs), len(rho))
    reach = int(round(PLATE_REACH_MM / RAY_STEP_MM))
    search = np.flatnonzero((rho >= radius + VALLEY_SEARCH_MM[0]) & (rho <= radius + VALLEY_SEARCH_MM[1]))
    windows = np.stack([prof[:, i] for i in search], axis=1)
    before = np.stack([prof[:, max(0, i - reach):i].max(axis=1) for i in search], axis=1)
    after = np.stack([prof[:, i + 1:i + 1 + reach].max(axis=1) for i in search], axis=1)
    depth = np.minimum(before, after) - windows
    best = np.argmax(depth, axis=1)
    ok = depth[np.arange(len(dirs)), best] >= MIN_VALLEY_DEPTH_HU
    out = np.full(len(dirs), np.nan)
    out[ok] = rho[search[best[ok]]]
    return out


HOUGH_BIN_MM = 2.0


def hough_spheres(points, normals, radius_range) -> list:
    """Candidate spheres ``(centre, radius, score)`` supported by surface points with outward unit normals, best
    first: every point votes for the centres ``p - r n`` of each radius (1 mm steps) in ``HOUGH_BIN_MM`` bins; per
    radius the bin (with its neighbours) holding most votes, scored per unit of sphere area."""
    out = []
    lo = points.min(axis=0) - radius_range[1]
    for r in np.arange(radius_range[0], radius_range[1] + 1e-9, 1.0):
        key = np.floor((points - r * normals - lo) / HOUGH_BIN_MM).astype(np.int64)
        acc = np.zeros(key.max(axis=0) + 2, np.float32)
        np.add.at(acc, tuple(key.T), 1.0)
        acc = ndimage.uniform_filter(acc, size=3, mode="constant")
        idx = np.unravel_index(int(np.argmax(acc)), acc.shape)
        out.append((lo + (np.array(idx) + 0.5) * HOUGH_BIN_MM, float(r), float(acc[idx]) / r ** 2))
    return sorted(out, key=lambda c: -c[2])


def refine_sphere(points, centre, radius, tolerance_mm: float):
    """Least-squares sphere on the points within ``tolerance_mm`` of (centre, radius), twice; None with too few."""
    for _ in range(2):
        inliers = np.abs(np.linalg.norm(points - centre, axis=1) - radius) < tolerance_mm
        if inliers.sum() < 20:
            return None
        centre, radius, _ = fit_sphere(points[inliers])
    return centre, radius


def surface_normals_lps(mask: np.ndarray, kji: np.ndarray, geometry) -> np.ndarray:
    """Outward unit normals (LPS) of ``mask`` at voxels ``kji`` (from the gradient of the smoothed mask)."""
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), sigma=1.0)
    grad_kji = np.stack([np.gradient(smooth, axis=a)[tuple(kji.T)] for a in range(3)], axis=1)
    a = geometry.direction_matrix @ np.diag(geometry.spacing)
    g = -grad_kji[:, ::-1] @ np.linalg.inv(a)  # d/dp = (d/dijk) A^-1, pointing outward (down the mask's slope)
    n = np.linalg.norm(g, axis=1, keepdims=True)
    return g / np.maximum(n, 1e-12)


def _head_sphere(surface_pts, normals, own_sampler, hu_sampler, spacing):
    """(centre, radius) of an exposed femoral head on these surface points, or None: the best-voted sphere that is
    largely exposed, solid bone inside, and lies in a joint (a valley across its surface in enough directions)."""
    if len(surface_pts) < 200:
        return None
    tolerance = 1.5 * float(max(spacing))
    fib = sphere_directions(400)
    for centre, radius, _ in hough_spheres(surface_pts, normals, HEAD_RADIUS_RANGE_MM):
        found = refine_sphere(surface_pts, centre, radius, tolerance)
        if found is None or not HEAD_RADIUS_RANGE_MM[0] <= found[1] <= HEAD_RADIUS_RANGE_MM[1]:
            continue
        centre, radius = found
        near = np.abs(np.linalg.norm(surface_pts - centre, axis=1) - radius) < tolerance
        exposed = len(np.unique(cKDTree(fib).query((surface_pts[near] - centre) / radius)[1])) / len(fib)
        solid = own_sampler(np.vstack([centre[None], centre + sphere_directions(200) * (0.6 * radius)])).mean()
        if exposed < MIN_EXPOSED_FRACTION or solid < 0.9:
            continue
        if np.isfinite(_joint_valleys(hu_sampler, centre, radius, sphere_directions(N_DIRECTIONS))).mean() >= MIN_JOINT_FRACTION:
            return centre, radius
    return None


def split_merged_femurs(env_labels: np.ndarray, hu: np.ndarray, geometry) -> int:
    """Cut femurs off the large components of ``env_labels`` (in place, new labels after the largest); returns how
    many were split off (see module doc)."""
    objects = ndimage.find_objects(env_labels)
    next_label = len(objects) + 1
    hu_sampler = VolumeSampler(hu.astype(np.float32, copy=False), geometry, outside_value=-1000.0)
    split = 0
    # the midline: the middle of all bone's extent in the patient's left-right axis
    bone_kji = np.argwhere(env_labels[::4, ::4, ::4] > 0) * 4
    bone_x = geometry.ijk_to_lps(bone_kji[:, ::-1].astype(float))[:, 0]
    x_mid = 0.5 * (bone_x.min() + bone_x.max())
    for lab, box in enumerate(objects, start=1):
        if box is None:
            continue
        own = env_labels[box] == lab
        if own.sum() * geometry.voxel_volume_mm3 / 1000.0 < MIN_COMPONENT_ML:
            continue
        offset = np.array([s.start for s in box])
        local = np.argwhere(own & ~morphology.erode(own, 1))
        surface = geometry.ijk_to_lps((local + offset)[:, ::-1].astype(float))
        normals = surface_normals_lps(own, local, geometry)
        own_sampler = VolumeSampler((env_labels == lab).astype(np.float32), geometry, outside_value=0.0)
        for sign in (1.0, -1.0):
            lower = surface[:, 2] < 0.5 * (surface[:, 2].min() + surface[:, 2].max())  # below the iliac wings
            sel = lower & (sign * (surface[:, 0] - x_mid) > MIN_LATERAL_MM)
            head = _head_sphere(surface[sel], normals[sel], own_sampler, hu_sampler, geometry.spacing)
            if head is None:
                continue
            if _cut_along_joint(env_labels, lab, next_label, head, hu_sampler, geometry):
                split += 1
                next_label += 1
    return split


def _cut_along_joint(env_labels, lab, new_label, head, hu_sampler, geometry) -> bool:
    """Cut component ``lab`` around ``head`` along the joint's valley (see module doc); the head and the femur pieces
    beyond the cut get ``new_label``.  False (nothing changed) when the cut does not separate them from the pelvis."""
    centre, radius = head
    dirs = sphere_directions(N_DIRECTIONS)
    valley = _joint_valleys(hu_sampler, centre, radius, dirs)
    if not np.isfinite(valley).any():
        return False
    # the whole sphere is cut at the valley's median radius (the joint space is concentric with the head; single
    # directions' valleys are noisy and would leave gaps between neighbours); what lies beyond decides
    valley[:] = float(np.nanmedian(valley))
    reach = radius + VALLEY_SEARCH_MM[1] + 2.0
    corners = np.array([centre + reach * np.array([sx, sy, sz]) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    ijk = geometry.lps_to_ijk(corners)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.array(geometry.size))
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, np.array(geometry.size))
    sub = tuple(slice(lo[a], hi[a]) for a in (2, 1, 0))
    kji = np.argwhere(env_labels[sub] == lab) + lo[::-1]
    d = geometry.ijk_to_lps(kji[:, ::-1].astype(float)) - centre
    rho = np.linalg.norm(d, axis=1)
    _, nearest = cKDTree(dirs).query(d / np.maximum(rho, 1e-9)[:, None])
    band = np.abs(rho - valley[nearest]) <= CUT_HALF_WIDTH_MM + 0.5 * float(min(geometry.spacing))
    if not band.any():
        return False
    own = env_labels == lab
    own[tuple(kji[band].T)] = False
    pieces, count = ndimage.label(own)
    c_kji = tuple(np.rint(geometry.lps_to_ijk(centre)[::-1]).astype(int))
    head_piece = int(pieces[c_kji]) if all(0 <= c < n for c, n in zip(c_kji, pieces.shape)) else 0
    if head_piece == 0 or count < 2:
        return False
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    pelvis = int(np.argmax(np.where(np.arange(len(sizes)) == head_piece, 0, sizes)))
    # the femur: the head and every other piece the cut made, except the pelvis (the neck, trochanters and shaft)
    touching = np.unique(pieces[ndimage.binary_dilation(_mask_of(kji[band], own.shape))])
    femur_ids = [int(t) for t in touching if t not in (0, pelvis)]
    if head_piece not in femur_ids:
        return False
    femur = np.isin(pieces, femur_ids)
    n_femur = int(femur.sum())
    if n_femur >= (pieces == pelvis).sum():  # the "pelvis" is the smaller part: not a femur cut off a pelvis
        return False
    if n_femur * geometry.voxel_volume_mm3 < MIN_FEMUR_TO_HEAD * 4.0 / 3.0 * np.pi * radius ** 3:
        return False  # no neck beyond the head: a rounded piece of the pelvis, not a femur
    # band voxels: the femur's where the ray beyond them lands in the femur (the neck), else the joint space
    out_mm = valley[nearest[band]] + 2.0 * CUT_HALF_WIDTH_MM + 1.0
    beyond = np.rint(geometry.lps_to_ijk(centre + dirs[nearest[band]] * out_mm[:, None])[:, ::-1]).astype(int)
    beyond = np.clip(beyond, 0, np.array(own.shape) - 1)
    to_femur = femur[tuple(beyond.T)]
    band_kji = kji[band]
    env_labels[tuple(band_kji[~to_femur].T)] = 0
    env_labels[femur] = new_label
    env_labels[tuple(band_kji[to_femur].T)] = new_label
    return True


def _mask_of(kji: np.ndarray, shape) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(kji.T)] = True
    return m
