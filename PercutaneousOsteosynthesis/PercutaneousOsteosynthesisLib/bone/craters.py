"""Craters left in the bone envelope where a lytic lesion broke through the cortex: filled up to the former bone outline.

A lytic metastasis is destroyed bone (the radiologist fills it with cement); where it breaks through a thin cortex its
soft tissue (20-40 HU) opens onto the muscle outside (40-45 HU) and HU cannot tell them apart. The envelope's fills
(``envelope.fill_component``'s slices, ``enclosure``'s rays) then stop short of it and leave a crater as deep as the
lesion, which the clearance checks read as outside bone. Geometry tells the crater from the anatomy:

1. its wall is open: envelope surface voxels with no bone-threshold voxel within ``reach_mm`` (the envelope's closing
   radius plus a voxel), where every other surface lies on or near cortex; pieces of at least ``MIN_OPEN_AREA_MM2``;
2. the crater is bounded by the convex hull of its open wall and of the surface within ``reach_mm`` of it (the rim up
   to the cortex's broken edge) and, within that hull, by the bone closed with a ball of ``BRIDGE_RADIUS_MM``: a bridge
   over the defect, which never reaches beyond the bone's convex continuation over it, so that a soft-tissue mass
   grown out of the bone stays outside, and the hull keeps the closing out of the bone's concave corners nearby;
3. it opens onto the outside of the bone: from the typical voxel of its mouth (the background next to what would be
   filled) at least ``MOUTH_MIN_ESCAPING_RAYS`` of the 26 ray directions of ``enclosure`` meet no bone within
   ``RAY_REACH_MM`` (cast as there, on blocks of 2 x 2 x 2 voxels, from the mouth's blocks only).
   A pocket opening into a tunnel (the sacral canal, a foramen: 0-5 escape on the real CT) is not a crater and stays open.

Arrays are [k, j, i] on one grid; spacing and distances in millimetres.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull

from ..geometry import morphology
from ..geometry.morphology import ball_radius_voxels
from ..geometry.resample import block_max
from ..geometry.voxel_index import nonzero_kji
from .enclosure import DIRECTIONS, RAY_REACH_MM

BRIDGE_RADIUS_MM = 20.0
MIN_OPEN_AREA_MM2 = 50.0
MOUTH_MIN_ESCAPING_RAYS = 7  # a quarter of the 26: the elderly phantom's crater lets 9-10 escape, the real sacrum's pockets 0-5


def open_surface(env_labels: np.ndarray, hu: np.ndarray, spacing_kji, bone_threshold_hu: float, reach_mm: float,
                 keep_out: np.ndarray | None = None) -> np.ndarray:
    """Index [k, j, i] (N, 3, raster order) of the envelope voxels next to the background (6 neighbours; ``keep_out``
    voxels, e.g. a crossable joint, and voxels beyond the array are not background) with no voxel at or above
    ``bone_threshold_hu`` within ``reach_mm`` (the ball of ``morphology.dilate``).  Read at the envelope's voxels below
    that threshold only (a surface voxel on cortex is never open): no whole-grid ball dilation."""
    background = env_labels == 0
    if keep_out is not None:
        np.copyto(background, False, where=keep_out)
    touching = morphology.dilate(background, 1)  # voxels with a background voxel among their 6 neighbours
    np.not_equal(env_labels, 0, out=background)
    touching &= background
    del background
    cand = nonzero_kji(touching)
    del touching
    cand = cand[hu[cand[:, 0], cand[:, 1], cand[:, 2]] < bone_threshold_hu]
    # the ball's offsets nearest first: most candidates lie next to bone and leave the search at once
    shape = np.asarray(env_labels.shape)
    remaining = np.arange(len(cand))
    offsets = _ball_offsets(ball_radius_voxels(reach_mm, spacing_kji))
    for offset in offsets[np.argsort(np.einsum("ij,ij->i", offsets * spacing_kji, offsets * spacing_kji), kind="stable")]:
        q = cand[remaining] + offset
        valid = np.all((q >= 0) & (q < shape), axis=1)
        hit = np.zeros(len(q), bool)
        hit[valid] = hu[q[valid, 0], q[valid, 1], q[valid, 2]] >= bone_threshold_hu
        remaining = remaining[~hit]
        if len(remaining) == 0:
            break
    return cand[remaining]


def _ball_offsets(radius) -> np.ndarray:
    """Offsets [k, j, i] of the structuring element of ``morphology.dilate`` with this radius (voxels, per axis)."""
    r = np.broadcast_to(np.asarray(radius, int), (3,))
    point = np.zeros(tuple(2 * r + 1), bool)
    point[tuple(r)] = True
    return np.argwhere(morphology.dilate(point, r)) - r


def escaping_rays(own: np.ndarray, kji: np.ndarray, spacing_kji) -> np.ndarray:
    """For each voxel index of ``kji`` (N, 3), how many of the 26 rays of ``enclosure`` meet no ``own`` within
    ``RAY_REACH_MM``: cast as there, on blocks of 2 x 2 x 2 voxels (a block is bone where any of its voxels is), one
    block step along each axis that moves, but from the given voxels' blocks only. A ray that leaves the array meets
    bone: where the CT cuts a bone (a femoral shaft at the scan's last slice) what lies beyond is unknown, and the box
    around a crater holds ``RAY_REACH_MM`` around it everywhere else (the model's margin, 30 mm by default)."""
    blocks = block_max(own)
    block_mm = 2.0 * np.asarray(spacing_kji, float)
    start = np.asarray(kji) // 2
    shape = np.asarray(blocks.shape)
    escaping = np.zeros(len(start), np.int16)
    for d in DIRECTIONS:
        d = np.asarray(d)
        n = max(1, int(round(RAY_REACH_MM / float(np.linalg.norm(d * block_mm)))))
        q = start[:, None, :] + np.arange(1, n + 1)[None, :, None] * d  # (N, n, 3) blocks along the ray
        valid = np.all((q >= 0) & (q < shape), axis=2)
        q = np.where(valid[..., None], q, 0)
        escaping += ~(blocks[q[..., 0], q[..., 1], q[..., 2]] | ~valid).any(axis=1)
    return escaping


def _attached(gain: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """The pieces of ``gain`` that touch ``wall``."""
    pieces, n = ndimage.label(gain)
    keep = np.zeros(n + 1, bool)
    keep[pieces[morphology.dilate(wall, 1) & gain]] = True
    keep[0] = False
    return keep[pieces]


def _hull_mask(points_mm: np.ndarray, shape, spacing_kji) -> np.ndarray | None:
    """Voxels of a grid of ``shape`` inside the convex hull of ``points_mm`` ([k, j, i] * spacing), None if flat.  A voxel
    is inside when on the inner side of every facet's plane (within 1e-6 mm); along each row of the points' box (k, j
    fixed) the facets bound i from both sides, so the rows' bounds are computed, not every voxel against every facet."""
    try:
        hull = ConvexHull(points_mm)
    except Exception:  # scipy.spatial.QhullError: a flat or degenerate wall
        return None
    sp = np.asarray(spacing_kji, float)
    lo = np.floor(points_mm.min(axis=0) / sp).astype(int)
    hi = np.ceil(points_mm.max(axis=0) / sp).astype(int) + 1
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    k = np.arange(lo[0], hi[0]) * sp[0]
    j = np.arange(lo[1], hi[1]) * sp[1]
    # per row and facet: n_k k + n_j j + d (rows, facets); the plane's test n_i i s_i + that <= 1e-6
    rest = k[:, None, None] * normals[:, 0] + j[None, :, None] * normals[:, 1] + offsets
    slope = normals[:, 2] * sp[2]
    i_min = np.full(rest.shape[:2], float(lo[2]))
    i_max = np.full(rest.shape[:2], float(hi[2] - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (1e-6 - rest) / slope  # i at which each facet's plane is crossed
    up, down, flat = slope > 0, slope < 0, slope == 0
    if up.any():
        i_max = np.minimum(i_max, np.floor(bound[:, :, up].min(axis=2)))
    if down.any():
        i_min = np.maximum(i_min, np.ceil(bound[:, :, down].max(axis=2)))
    if flat.any():  # planes along i: the whole row is on one side
        i_max[np.any(rest[:, :, flat] > 1e-6, axis=2)] = -np.inf
    i = np.arange(lo[2], hi[2])
    out = np.zeros(shape, bool)
    out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = (i >= i_min[:, :, None]) & (i <= i_max[:, :, None])
    return out


def _pieces(kji: np.ndarray, shape) -> list[np.ndarray]:
    """The 26-connected pieces of a set of voxels (``kji``, (N, 3) in raster order, of a grid of ``shape``), each as its
    voxels' index in raster order, the pieces in the raster order of their first voxel (as ``ndimage.label`` numbers
    them); from the voxels' neighbours (a sparse graph), not a labelled grid."""
    if len(kji) == 0:
        return []
    flat = np.ravel_multi_index(tuple(kji.T), shape)  # increasing (raster order)
    rows, cols = [], []
    for offset in itertools.product((-1, 0, 1), repeat=3):
        if offset <= (0, 0, 0):  # one of each pair of opposite offsets
            continue
        q = kji + offset
        valid = np.all((q >= 0) & (q < shape), axis=1)
        neighbour = np.ravel_multi_index(tuple(q[valid].T), shape)
        where = np.minimum(np.searchsorted(flat, neighbour), len(flat) - 1)
        found = flat[where] == neighbour
        rows.append(np.flatnonzero(valid)[found])
        cols.append(where[found])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(len(flat), len(flat)))
    n, piece = connected_components(graph, directed=False)
    first = np.full(n, len(flat))
    np.minimum.at(first, piece, np.arange(len(flat)))
    order = np.argsort(first)
    members = np.argsort(piece, kind="stable")  # each piece's voxels in raster order
    stops = np.cumsum(np.bincount(piece, minlength=n))
    starts = stops - np.bincount(piece, minlength=n)
    return [kji[members[starts[p]:stops[p]]] for p in order]


def fill_craters(env_labels: np.ndarray, hu: np.ndarray, spacing_kji, bone_threshold_hu: float, reach_mm: float,
                 keep_out: np.ndarray | None = None, report: list | None = None) -> int:
    """Give each bone of ``env_labels`` (in place) the craters in its surface (see module doc); ``hu``: the CT on the same
    grid; ``bone_threshold_hu``: the envelope's candidate threshold; ``reach_mm``: how far from bone of that density
    an envelope surface may lie (its closing radius plus a voxel); ``keep_out``: voxels never filled (a crossable joint).
    ``report``: a list that receives one dict per crater filled (voxels, bone label, centre_kji: the filled voxels' mean
    index). Returns the voxels filled."""
    sp = np.asarray(spacing_kji, float)
    opened = open_surface(env_labels, hu, sp, bone_threshold_hu, reach_mm, keep_out)
    if len(opened) == 0:
        return 0
    face_mm2 = float(np.prod(sp)) ** (2.0 / 3.0)
    near = [int(np.ceil((reach_mm + float(sp.max())) / s)) + 2 for s in sp]  # the wall, its rim and its hull
    far = [int(np.ceil((reach_mm + max(2.0 * BRIDGE_RADIUS_MM, RAY_REACH_MM)) / s)) + 2 for s in sp]  # rays, closing
    rim_radius = ball_radius_voxels(reach_mm + float(sp.max()), sp)
    filled = 0
    for points in _pieces(opened, env_labels.shape):
        if len(points) * face_mm2 < MIN_OPEN_AREA_MM2:
            continue
        low, high = points.min(axis=0), points.max(axis=0) + 1
        near_box = tuple(slice(max(0, int(l) - g), min(size, int(h) + g)) for l, h, g, size in zip(low, high, near, env_labels.shape))
        view = env_labels[near_box]
        wall = np.zeros(view.shape, bool)
        wall[tuple((points - [n.start for n in near_box]).T)] = True
        lab = int(np.bincount(view[wall].ravel()).argmax())
        own_near = view == lab
        free = view == 0
        if keep_out is not None:
            free &= ~keep_out[near_box]
        rim = own_near & morphology.dilate(~own_near, 1) & morphology.dilate(wall, rim_radius)
        hull = _hull_mask(np.argwhere(rim | wall) * sp, wall.shape, sp)
        if hull is None:
            continue
        gain = _attached(hull & free, wall)
        mouth = morphology.dilate(gain, 1) & free & ~gain
        if not mouth.any():
            continue  # closed over
        # the rays and the bridge read the bone this far around the wall
        box = tuple(slice(max(0, int(l) - g), min(size, int(h) + g)) for l, h, g, size in zip(low, high, far, env_labels.shape))
        own = env_labels[box] == lab
        offset = [n.start - b.start for n, b in zip(near_box, box)]
        if np.median(escaping_rays(own, np.argwhere(mouth) + offset, sp)) < MOUTH_MIN_ESCAPING_RAYS:
            continue  # a pocket of a tunnel
        sub = tuple(slice(o, o + n) for o, n in zip(offset, wall.shape))
        gain = _attached(gain & morphology.close_ball_mm(own, BRIDGE_RADIUS_MM, sp)[sub], wall)
        view[gain] = lab
        filled += int(np.count_nonzero(gain))
        if report is not None:
            centre = np.argwhere(gain).mean(axis=0) + [n.start for n in near_box]
            report.append({"voxels": int(np.count_nonzero(gain)), "label": lab, "centre_kji": centre})
    return filled
