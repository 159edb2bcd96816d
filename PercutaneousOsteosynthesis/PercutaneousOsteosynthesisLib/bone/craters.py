"""Craters left in the bone envelope where a lytic lesion broke through the cortex: filled up to the former bone outline.

A lytic metastasis is destroyed bone (the radiologist fills it with cement); where it breaks through a thin cortex its
soft tissue (20-40 HU) opens onto the muscle outside (40-45 HU) and HU cannot tell them apart. The envelope's fills
(``model._fill_component``'s slices, ``enclosure``'s rays) then stop short of it and leave a crater as deep as the
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

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from ..geometry import morphology
from ..geometry.bounding_box import bounding_box
from ..geometry.morphology import ball_radius_voxels
from ..geometry.resample import block_max
from .enclosure import DIRECTIONS, RAY_REACH_MM

BRIDGE_RADIUS_MM = 20.0
MIN_OPEN_AREA_MM2 = 50.0
MOUTH_MIN_ESCAPING_RAYS = 7  # a quarter of the 26: the elderly phantom's crater lets 9-10 escape, the real sacrum's pockets 0-5


def open_surface(env_labels: np.ndarray, hu: np.ndarray, spacing_kji, bone_threshold_hu: float, reach_mm: float,
                 keep_out: np.ndarray | None = None) -> np.ndarray:
    """Envelope voxels next to the background (``keep_out`` voxels, e.g. a crossable joint, are not background) with no
    voxel at or above ``bone_threshold_hu`` within ``reach_mm``."""
    envelope = env_labels > 0
    background = ~envelope
    if keep_out is not None:
        background &= ~keep_out
    surface = envelope & morphology.dilate(background, 1)
    del background
    near_bone = morphology.dilate(hu >= bone_threshold_hu, ball_radius_voxels(reach_mm, spacing_kji))
    surface &= ~near_bone
    return surface


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
    """Voxels of a grid of ``shape`` inside the convex hull of ``points_mm`` ([k, j, i] * spacing), None if flat."""
    try:
        hull = ConvexHull(points_mm)
    except Exception:  # scipy.spatial.QhullError: a flat or degenerate wall
        return None
    lo = np.floor(points_mm.min(axis=0) / spacing_kji).astype(int)
    hi = np.ceil(points_mm.max(axis=0) / spacing_kji).astype(int) + 1
    kji = np.argwhere(np.ones(tuple(hi - lo), bool)) + lo
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    inside = np.ones(len(kji), bool)
    for start in range(0, len(kji), 65536):  # a point is inside when on the inner side of every facet's plane
        part = kji[start:start + 65536] * spacing_kji
        inside[start:start + 65536] = np.all(part @ normals.T + offsets <= 1e-6, axis=1)
    out = np.zeros(shape, bool)
    out[tuple(kji[inside].T)] = True
    return out


def fill_craters(env_labels: np.ndarray, hu: np.ndarray, spacing_kji, bone_threshold_hu: float, reach_mm: float,
                 keep_out: np.ndarray | None = None, report: list | None = None) -> int:
    """Give each bone of ``env_labels`` (in place) the craters in its surface (see module doc); ``hu``: the CT on the same
    grid; ``bone_threshold_hu``: the envelope's candidate threshold; ``reach_mm``: how far from bone of that density
    an envelope surface may lie (its closing radius plus a voxel); ``keep_out``: voxels never filled (a crossable joint).
    ``report``: a list that receives one dict per crater filled (voxels, bone label, centre_kji: the filled voxels' mean
    index). Returns the voxels filled."""
    sp = np.asarray(spacing_kji, float)
    opened = open_surface(env_labels, hu, sp, bone_threshold_hu, reach_mm, keep_out)
    around = bounding_box(opened)
    if around is None:
        return 0
    wall_pieces = np.zeros(opened.shape, np.int32)  # labelled in the open voxels' box only
    wall_pieces[around], n = ndimage.label(opened[around], np.ones((3, 3, 3), bool))
    del opened
    face_mm2 = float(np.prod(sp)) ** (2.0 / 3.0)
    sizes = np.bincount(wall_pieces.ravel())
    near = [int(np.ceil((reach_mm + float(sp.max())) / s)) + 2 for s in sp]  # the wall, its rim and its hull
    far = [int(np.ceil((reach_mm + max(2.0 * BRIDGE_RADIUS_MM, RAY_REACH_MM)) / s)) + 2 for s in sp]  # rays, closing
    rim_radius = ball_radius_voxels(reach_mm + float(sp.max()), sp)
    filled = 0
    for p, piece in enumerate(ndimage.find_objects(wall_pieces), start=1):
        if piece is None or sizes[p] * face_mm2 < MIN_OPEN_AREA_MM2:
            continue
        box = tuple(slice(max(0, s.start - g), min(size, s.stop + g)) for s, g, size in zip(piece, far, env_labels.shape))
        sub = tuple(slice(max(0, s.start - g) - b.start, min(size, s.stop + g) - b.start)
                    for s, g, size, b in zip(piece, near, env_labels.shape, box))
        view = env_labels[box]
        wall = wall_pieces[box][sub] == p
        lab = int(np.bincount(view[sub][wall].ravel()).argmax())
        own = view == lab
        free = view[sub] == 0
        if keep_out is not None:
            free &= ~keep_out[box][sub]
        rim = own[sub] & morphology.dilate(~own[sub], 1) & morphology.dilate(wall, rim_radius)
        hull = _hull_mask(np.argwhere(rim | wall) * sp, wall.shape, sp)
        if hull is None:
            continue
        gain = _attached(hull & free, wall)
        mouth = morphology.dilate(gain, 1) & free & ~gain
        offset = [s.start for s in sub]
        if not mouth.any() or np.median(escaping_rays(own, np.argwhere(mouth) + offset, sp)) < MOUTH_MIN_ESCAPING_RAYS:
            continue  # closed over, or a pocket of a tunnel
        gain = _attached(gain & morphology.close_ball_mm(own, BRIDGE_RADIUS_MM, sp)[sub], wall)
        view[sub][gain] = lab
        filled += int(np.count_nonzero(gain))
        if report is not None:
            centre = np.argwhere(gain).mean(axis=0) + [b.start + s.start for b, s in zip(box, sub)]
            report.append({"voxels": int(np.count_nonzero(gain)), "label": lab, "centre_kji": centre})
    return filled
