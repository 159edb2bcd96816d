"""Cavities enclosed in 3D by one bone, whatever their HU: the marrow of a vertebral body, the remnants of the discs
between the fused sacral vertebrae, an ala whose thin cortex has gaps.

The slice fill of the bone model (``morphology.slice_majority_holes``) keeps a background voxel when it is enclosed in
the 2D slices of two of the three orientations. In a real sacrum the S1 and S2 bodies' marrow and the disc remnants
between them (50-190 HU, below the bone threshold) are enclosed in axial slices only: in sagittal and coronal slices
they open through the thin, partly sub-threshold wall into the canal and the foramina, which open to the outside. They
are still enclosed in 3D: rays cast from them in almost every direction meet the same bone within a few centimetres.

The test runs once the bones are separate (after the femur and sacroiliac splits), for each bone on its own: a joint
space lies between two bones, so rays from it toward the other bone escape and it is never filled; so do the pelvic
cavity, the acetabular fossa, the obturator foramen and the sciatic notches, which open on a whole side. A tunnel (the
sacral canal, a foramen) does pass the test (only rays near its axis escape): the no-go search finds tunnels from the
CT's HU inside the envelope (``bone.nogo``), so they stay forbidden. Still, soft tissue that opens onto the space left
unfilled (a tunnel's mouth, the canal) or that forms a tunnel lined by cortex (the no-go search's own test,
``nogo.thin_pieces``) is not filled, so that the envelope's field measures the distance to a tunnel's wall; marrow,
and fat enclosed in it, is filled.

Rays are cast on blocks of 2 x 2 x 2 voxels (a block is bone where any of its voxels is) in the 26 directions of a
cube's faces, edges and corners, up to ``RAY_REACH_MM`` (in millimetres along each direction); a block is enclosed
when at least ``MIN_HIT_RAYS`` of them meet the bone. Each direction's "bone within n blocks ahead" is built for the
whole bone's box at once by doubling shifts (a few array operations per direction). The pockets left where three or
more rays escape (the edge of a disc remnant) are then filled where the bone and what it has gained enclose them in
the slices of two orientations (the same slice rule, now on one bone's solid).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from ..geometry import morphology
from ..geometry.bounding_box import bounding_box
from ..geometry.resample import block_max, unblock
from .nogo import MIN_TUNNEL_ML, TUNNEL_MAX_HU, thin_pieces

RAY_REACH_MM = 30.0
DIRECTIONS = [d for d in itertools.product((-1, 0, 1), repeat=3) if d != (0, 0, 0)]
MIN_HIT_RAYS = len(DIRECTIONS) - 2  # at most two of the 26 rays escape: a tunnel's two ends


def _ahead(x: np.ndarray, d, n: int) -> np.ndarray:
    """``x`` looked up ``n`` steps ahead along direction ``d`` (k, j, i in -1..1): out[p] = x[p + n d], False beyond."""
    out = np.zeros_like(x)
    src, dst = [], []
    for axis, step in enumerate(d):
        size = x.shape[axis]
        if n * abs(step) >= size:
            return out
        if step > 0:
            src.append(slice(n, size))
            dst.append(slice(0, size - n))
        elif step < 0:
            src.append(slice(0, size - n))
            dst.append(slice(n, size))
        else:
            src.append(slice(None))
            dst.append(slice(None))
    out[tuple(dst)] = x[tuple(src)]
    return out


def _bone_within(bone: np.ndarray, d, n: int) -> np.ndarray:
    """Where bone lies 1..``n`` steps ahead along ``d`` (binary doubling: O(log n) shifts)."""
    acc, reach = None, 0  # acc: bone within 1..reach steps
    power, span = _ahead(bone, d, 1), 1  # bone within 1..span steps, span a power of two
    while True:
        if n & span:
            acc = power.copy() if acc is None else acc | _ahead(power, d, reach)
            reach += span
        if 2 * span > n:
            return acc
        power = power | _ahead(power, d, span)
        span *= 2


def enclosed_blocks(bone_blocks: np.ndarray, block_mm) -> np.ndarray:
    """Blocks from which at least ``MIN_HIT_RAYS`` of the 26 rays meet ``bone_blocks`` within
    ``RAY_REACH_MM``; ``block_mm``: the blocks' size (k, j, i) in mm."""
    block_mm = np.asarray(block_mm, float)
    count = np.zeros(bone_blocks.shape, np.uint8)
    for d in DIRECTIONS:
        n = max(1, int(round(RAY_REACH_MM / float(np.linalg.norm(np.asarray(d) * block_mm)))))
        count += _bone_within(bone_blocks, d, n)
    return count >= MIN_HIT_RAYS  # bone blocks too: their background voxels


def _without_tunnels(inside: np.ndarray, open_space: np.ndarray, hu: np.ndarray, spacing_kji,
                     cortex_threshold_hu: float) -> np.ndarray:
    """``inside`` less the tunnels in it: its pieces of soft-tissue HU that open onto ``open_space`` (the background
    left unfilled: a tunnel's mouth, the canal) or are as large as a tunnel, no thicker and lined by cortex
    (``nogo.thin_pieces``); around the lined ones, also the voxel layer below ``cortex_threshold_hu`` (the partial
    volume of their wall, as on the envelope's surface: ``envelope.place_surface``)."""
    box = bounding_box(inside & (hu < TUNNEL_MAX_HU), 1)
    if box is None:
        return inside
    sub, sub_hu = inside[box], np.asarray(hu[box], np.float32)
    soft = sub & (sub_hu < TUNNEL_MAX_HU)
    pieces, n = ndimage.label(soft)
    opening = np.zeros(n + 1, bool)
    opening[pieces[morphology.dilate(open_space[box], 1) & soft]] = True
    opening[0] = False
    sub &= ~opening[pieces]
    tunnels = np.zeros(sub.shape, bool)
    min_voxels = MIN_TUNNEL_ML * 1000.0 / float(np.prod(spacing_kji))
    for kji, lined in thin_pieces(soft, sub_hu, spacing_kji, min_voxels, (pieces, n)):
        if lined:
            tunnels[tuple(kji.T)] = True
    if tunnels.any():
        sub &= ~(morphology.dilate(tunnels, 1) & ((sub_hu < cortex_threshold_hu) | tunnels))
    return inside


def fill_enclosed_cavities(env_labels: np.ndarray, hu: np.ndarray, spacing_kji, cortex_threshold_hu: float,
                           own_extra: dict | None = None, keep_out: np.ndarray | None = None, objects: list | None = None) -> int:
    """Give each bone of ``env_labels`` (in place) the background voxels of the cavities it encloses in 3D (see module
    doc); ``hu``: the CT on the same grid; ``cortex_threshold_hu``: the voxel layer around a tunnel left open stays out
    below it (the envelope's partial-volume rule). ``own_extra``: {label: mask over the grid} of voxels that count as that
    bone for its rays (the sacrum's joint surface, kept apart in the model); ``keep_out``: voxels never filled;
    ``objects``: ``ndimage.find_objects(env_labels)`` when the caller has it. Returns the number of voxels filled."""
    block_mm = 2.0 * np.asarray(spacing_kji, float)
    present = [(lab, box) for lab, box in enumerate(ndimage.find_objects(env_labels) if objects is None else objects, start=1)
               if box is not None]

    def rays(lab_box):  # each bone's own voxels and what its rays enclose: no other bone's fill changes them
        lab, box = lab_box
        own = env_labels[box] == lab
        if own_extra and lab in own_extra:
            own |= own_extra[lab][box]
        return own, unblock(enclosed_blocks(block_max(own), block_mm), own.shape)

    filled = 0
    with ThreadPoolExecutor(max_workers=2) as pool:  # two bones' rays at a time; the rest bone by bone, in label order
        for (lab, box), (own, inside) in zip(present, pool.map(rays, present)):
            filled += _fill_bone(env_labels, hu, lab, box, own, inside, spacing_kji, cortex_threshold_hu, keep_out)
    return filled


def _fill_bone(env_labels, hu, lab, box, own, inside, spacing_kji, cortex_threshold_hu, keep_out) -> int:
    """The rest of :func:`fill_enclosed_cavities` for one bone (``own``: its voxels in ``box``; ``inside``: what its rays
    enclose there); returns the voxels filled."""
    view = env_labels[box]
    free = view == 0
    if keep_out is not None:
        free &= ~keep_out[box]
    inside &= free
    near = bounding_box(inside, 2)  # the rest works around what the rays filled
    if near is None:
        return 0
    own, free, inside = own[near], free[near], inside[near]
    # the small pockets left (3 or more rays escaping) are enclosed in slices by the bone and what it fills
    inside |= morphology.slice_majority_holes(np.pad(own | inside, 1))[1:-1, 1:-1, 1:-1]
    inside &= free
    inside = _without_tunnels(inside, free & ~inside, hu[box][near], spacing_kji, cortex_threshold_hu)
    pieces, n = ndimage.label(inside)
    if n:  # islands (not touching the bone) are left out: what is filled extends the bone
        attached = np.zeros(n + 1, bool)
        attached[pieces[morphology.dilate(own, 1) & inside]] = True
        attached[0] = False
        inside = attached[pieces]
    view = view[near]
    view[inside] = lab
    return int(np.count_nonzero(inside))
