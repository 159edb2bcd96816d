"""Femurs joined to the pelvis across the hip joint (thin cortex averaged on a coarse CT, a narrowed arthritic
joint) separated again, so that they are recognised and the joint stays a breach.

1. Per side of a large bone component, the femoral head is sought as a sphere (radius ``HEAD_RADIUS_RANGE_MM``)
   carried by the component's outer surface in its lower half: the part of the head outside the acetabulum. The
   surface points vote along their inward normals (a Hough transform), as the head is a small part of that surface.
2. A candidate is accepted when its inliers cover at least ``MIN_EXPOSED_FRACTION`` of the sphere's directions, the
   ball inside it is bone, and a joint shows across its surface in at least ``MIN_JOINT_FRACTION`` of
   ``N_DIRECTIONS`` rays: a darker valley between two brighter plates (subchondral bone of the head, acetabular
   cortex). A spherical bump of the pelvis or a trochanter has no such valley.
3. The component is cut along the whole sphere at the valleys' median radius (``CUT_HALF_WIDTH_MM`` either side):
   the joint space is concentric with the head, and single rays' valleys are too noisy to follow. The femur is
   the piece holding the head's centre and the other pieces next to the cut except the pelvis (the neck,
   trochanters, shaft); cut voxels become joint space except where the femur lies just beyond them (the neck).
   The cut is undone when the femur is not smaller than the pelvis or holds less than ``MIN_FEMUR_TO_HEAD`` head
   volumes (no neck: a rounded piece of the pelvis).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import cKDTree

from ..fileio.volume import array_of_image
from ..geometry import morphology
from ..geometry.sampling import VolumeSampler
from ..geometry.vectors import sphere_directions
from ..geometry.voxel_index import nonzero_kji
from .components import midline_x_of_labels
from .femoral_head import HEAD_RADIUS_RANGE_MM, fit_sphere

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
MAX_SURFACE_POINTS = 30000


def hough_spheres(points, normals, radius_range) -> list:
    """Candidate spheres ``(centre, radius, score)`` supported by surface points with outward unit normals, best
    first: every point votes for the centres ``p - r n`` of each radius (1 mm steps) in ``HOUGH_BIN_MM`` bins; per
    radius the bin (with its neighbours) holding most votes, scored per unit of sphere area. The radii are voted on two
    at a time (worker threads: numpy and SciPy's filter release the GIL)."""
    lo = points.min(axis=0) - radius_range[1]

    def best_bin(r):
        key = np.floor((points - r * normals - lo) / HOUGH_BIN_MM).astype(np.int64)
        shape = tuple(key.max(axis=0) + 2)
        acc = np.bincount(np.ravel_multi_index(tuple(key.T), shape), minlength=int(np.prod(shape))).reshape(shape).astype(np.float32)
        acc = ndimage.uniform_filter(acc, size=3, mode="constant")
        idx = np.unravel_index(int(np.argmax(acc)), acc.shape)
        return lo + (np.array(idx) + 0.5) * HOUGH_BIN_MM, float(r), float(acc[idx]) / r ** 2

    with ThreadPoolExecutor(max_workers=2) as pool:
        out = list(pool.map(best_bin, np.arange(radius_range[0], radius_range[1] + 1e-9, 1.0)))
    return sorted(out, key=lambda c: -c[2])


def refine_sphere(points, centre, radius, tolerance_mm: float):
    """Least-squares sphere on the points within ``tolerance_mm`` of (centre, radius), twice; None with too few."""
    for _ in range(2):
        inliers = np.abs(np.linalg.norm(points - centre, axis=1) - radius) < tolerance_mm
        if inliers.sum() < 20:
            return None
        centre, radius, _ = fit_sphere(points[inliers])
    return centre, radius


def surface_normals_lps(mask: np.ndarray, kji: np.ndarray, geometry, reach: int = 2) -> np.ndarray:
    """Outward unit normals (LPS) of ``mask`` at voxels ``kji``: away from the centroid of the mask's voxels within
    ``reach`` voxels (only those neighbourhoods are read, not the whole mask)."""
    offsets = np.array([(a, b, c) for a in range(-reach, reach + 1) for b in range(-reach, reach + 1) for c in range(-reach, reach + 1)])
    padded = np.pad(mask, reach)
    strides = np.array([padded.shape[1] * padded.shape[2], padded.shape[2], 1], np.int64)  # flat index steps (k, j, i)
    flat, offsets_flat = padded.reshape(-1), offsets @ strides
    a = geometry.direction_matrix @ np.diag(geometry.spacing)
    offsets_lps = offsets[:, ::-1] @ a.T  # (i, j, k) steps to LPS mm
    out = np.zeros((len(kji), 3))
    for start in range(0, len(kji), 20000):
        block = (kji[start:start + 20000] + reach) @ strides
        inside = flat[block[:, None] + offsets_flat[None, :]]
        out[start:start + 20000] = -(inside.astype(np.float32) @ offsets_lps)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _head_sphere(surface_pts, normals, own_sampler, hu_sampler, spacing):
    """(centre, radius, valley radii per ``N_DIRECTIONS`` direction) of an exposed femoral head on these surface
    points, or None: the best-voted sphere that is largely exposed, solid bone inside, and lies in a joint (a valley
    across its surface in enough directions)."""
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
        valley = _joint_valleys(hu_sampler, centre, radius, sphere_directions(N_DIRECTIONS))
        if np.isfinite(valley).mean() >= MIN_JOINT_FRACTION:
            return centre, radius, valley
    return None


def split_merged_femurs(env_labels: np.ndarray, hu: np.ndarray, geometry, objects: list | None = None) -> int:
    """Cut femurs off the large components of ``env_labels`` (in place, new labels after the largest); returns how
    many were split off (see module doc). ``objects``: ``ndimage.find_objects(env_labels)`` when the caller has it.

    The components are searched two at a time (worker threads; a component's search and cuts read and write only its
    own voxels): each cut takes a provisional label from the top of the label type, renumbered afterwards in the order
    of the components and their sides, as if searched one after the other."""
    objects = ndimage.find_objects(env_labels) if objects is None else objects
    hu_sampler = VolumeSampler(hu.astype(np.float32, copy=False), geometry, outside_value=-1000.0)
    x_mid = midline_x_of_labels(env_labels, geometry)
    present = [(lab, box) for lab, box in enumerate(objects, start=1) if box is not None]
    top = int(np.iinfo(env_labels.dtype).max)
    if top - 2 * len(present) <= len(objects) + 2 * len(present):
        raise ValueError("too many bone components for the label type")

    def search(n_lab_box):
        n, (lab, box) = n_lab_box
        return _split_component(env_labels, lab, box, (top - 2 * n, top - 2 * n - 1), hu_sampler, x_mid, geometry)

    with ThreadPoolExecutor(max_workers=2) as pool:
        cuts = [c for found in pool.map(search, enumerate(present)) for c in found]
    next_label = len(objects) + 1
    for provisional, box in cuts:
        view = env_labels[box]
        view[view == provisional] = next_label
        next_label += 1
    return len(cuts)


def _split_component(env_labels, lab, box, provisional, hu_sampler, x_mid, geometry) -> list:
    """The femurs cut off component ``lab`` (in ``box``), left side (+x) first: [(provisional label, box)]."""
    own = env_labels[box] == lab
    if own.sum() * geometry.voxel_volume_mm3 / 1000.0 < MIN_COMPONENT_ML:
        return []
    offset = np.array([s.start for s in box])
    local = nonzero_kji(own & ~morphology.erode(own, 1))
    surface = geometry.ijk_to_lps((local + offset)[:, ::-1].astype(float))
    lower = surface[:, 2] < 0.5 * (surface[:, 2].min() + surface[:, 2].max())  # below the iliac wings

    def own_sampler(points_lps):  # 1 where the nearest voxel belongs to this component
        kji = np.rint(geometry.lps_to_ijk(points_lps)[:, ::-1]).astype(int)
        ok = np.all((kji >= 0) & (kji < np.array(env_labels.shape)), axis=1)
        out = np.zeros(len(kji))
        out[ok] = env_labels[tuple(kji[ok].T)] == lab
        return out

    cuts = []
    for sign, new_label in zip((1.0, -1.0), provisional):
        sel = np.flatnonzero(lower & (sign * (surface[:, 0] - x_mid) > MIN_LATERAL_MM))
        if len(sel) < 200:
            continue
        sel = sel[::max(1, len(sel) // MAX_SURFACE_POINTS)]  # an even subsample is enough to vote
        normals = surface_normals_lps(own, local[sel], geometry)
        head = _head_sphere(surface[sel], normals, own_sampler, hu_sampler, geometry.spacing)
        if head is not None and _cut_along_joint(env_labels, lab, new_label, head, geometry, box):
            cuts.append((new_label, box))
    return cuts


def _cut_along_joint(env_labels, lab, new_label, head, geometry, cbox) -> bool:
    """Cut component ``lab`` (bounding box ``cbox``) around ``head`` (centre, radius, valley radii from
    :func:`_head_sphere`) along the joint's valley (see module doc); the head and the femur pieces beyond the cut get
    ``new_label``.  False (nothing changed) when the cut does not separate them from the pelvis."""
    centre, radius, valley = head
    # the whole sphere is cut at the valley's median radius (the joint space is concentric with the head; single
    # directions' valleys are noisy and would leave gaps between neighbours); what lies beyond decides
    cut_mm = float(np.nanmedian(valley))
    view = env_labels[cbox]
    origin = np.array([s.start for s in cbox])  # k, j, i of the box in the grid
    reach = cut_mm + CUT_HALF_WIDTH_MM + 2.0
    corners = np.array([centre + reach * np.array([sx, sy, sz]) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    kji_c = geometry.lps_to_ijk(corners)[:, ::-1] - origin
    lo = np.clip(np.floor(kji_c.min(axis=0)).astype(int), 0, np.array(view.shape))
    hi = np.clip(np.ceil(kji_c.max(axis=0)).astype(int) + 1, 0, np.array(view.shape))
    sub = tuple(slice(a, b) for a, b in zip(lo, hi))
    kji = nonzero_kji(view[sub] == lab) + lo  # in the box
    rho = np.linalg.norm(geometry.ijk_to_lps((kji + origin)[:, ::-1].astype(float)) - centre, axis=1)
    band = np.abs(rho - cut_mm) <= CUT_HALF_WIDTH_MM + 0.5 * float(min(geometry.spacing))
    if not band.any():
        return False
    band_kji = kji[band]
    own = view == lab
    own[tuple(band_kji.T)] = False
    pieces = array_of_image(sitk.ConnectedComponent(sitk.GetImageFromArray(own.view(np.uint8)), False))
    c_kji = np.rint(geometry.lps_to_ijk(centre)[::-1]).astype(int) - origin
    inside = np.all((c_kji >= 0) & (c_kji < np.array(pieces.shape)))
    head_piece = int(pieces[tuple(c_kji)]) if inside else 0
    if head_piece == 0 or pieces.max() < 2:
        return False
    sizes = np.bincount(pieces[pieces > 0])  # voxels per piece (the background, 0, counts none)
    pelvis = int(np.argmax(np.where(np.arange(len(sizes)) == head_piece, 0, sizes)))
    # the femur: the head and every other piece next to the cut except the pelvis (the neck, trochanters and shaft)
    near = ndimage.binary_dilation(_mask_of(band_kji - lo, pieces[sub].shape))
    femur_ids = [int(t) for t in np.unique(pieces[sub][near]) if t not in (0, pelvis)]
    if head_piece not in femur_ids:
        return False
    n_femur = int(sizes[femur_ids].sum())
    if n_femur >= sizes[pelvis]:  # the "pelvis" is the smaller part: not a femur cut off a pelvis
        return False
    if n_femur * geometry.voxel_volume_mm3 < MIN_FEMUR_TO_HEAD * 4.0 / 3.0 * np.pi * radius ** 3:
        return False  # no neck beyond the head: a rounded piece of the pelvis, not a femur
    is_femur = np.zeros(int(pieces.max()) + 1, bool)
    is_femur[femur_ids] = True
    femur = is_femur[pieces]  # a lookup, not np.isin over the box
    # band voxels: the femur's where the point just beyond them (radially) is femur (the neck), else joint space
    d = geometry.ijk_to_lps((band_kji + origin)[:, ::-1].astype(float)) - centre
    beyond_lps = centre + d / np.linalg.norm(d, axis=1, keepdims=True) * (cut_mm + 2.0 * CUT_HALF_WIDTH_MM + 1.0)
    beyond = np.clip(np.rint(geometry.lps_to_ijk(beyond_lps)[:, ::-1]).astype(int) - origin, 0, np.array(own.shape) - 1)
    to_femur = femur[tuple(beyond.T)]
    view[tuple(band_kji[~to_femur].T)] = 0
    view[femur] = new_label
    view[tuple(band_kji[to_femur].T)] = new_label
    return True


def _mask_of(kji: np.ndarray, shape) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(kji.T)] = True
    return m
