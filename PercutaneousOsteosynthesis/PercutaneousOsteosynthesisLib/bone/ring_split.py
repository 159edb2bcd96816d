"""A pelvic ring (sacrum and both hip bones in one piece of the model) split again at its sacroiliac joints, so that the
sacrum is recognised, its canal and foramina are found and the joint is labelled crossable.

On a real CT the closing that makes the envelope solid also bridges the joints' mouths, and a thin or narrowed joint
(an elderly patient, a 2-3 mm scan) touches bone across it in places, so the ring comes out as one piece. The joint
still shows in the CT as a dark sheet between two bright subchondral plates.

1. Only the bone that is dense enough to be candidate bone (the model's threshold) is flooded: marrow, lesions and
   the soft tissue the closing filled do not carry a flood from one bone to the next.
2. Seeds (LPS): the sacrum is the candidate bone within ``SACRUM_SEED_MM`` of the midline behind the ring's centre
   (sacral body, canal walls, crest); each hip bone is the candidate bone farther than ``HIP_SEED_MM`` from the
   midline on its side (the iliac wings; the sacral alae reach about 55 mm).
3. A seeded watershed spreads the seeds over the candidate bone; crossing a voxel costs its valley depth (how much
   darker it is than the brightest bone within a joint's half width on both sides along some axis, as a fraction of
   that bone's contrast), so the seeds meet in the joints.
4. Pieces of a flood not attached to its seeds (islands of trabeculae that the flood reached across marrow) are
   dropped; the rest of the ring (marrow, lesions, filled gaps, those islands) takes the label of the nearest
   flooded voxel.
5. The split is kept when the sacrum and each hip bone are large enough (``MIN_SACRUM_ML``, ``MIN_HIP_ML``) and at
   least ``MIN_JOINT_FRACTION`` of the sacrum's voxels along each interface lie within a voxel of a valley (the
   joint space, dark or blurred): a real joint, not a fused one or a cut through solid bone. Those sacrum voxels
   become the crossable joint.
6. One hip bone may already be a bone of its own, its joint resolved by the candidate bone (on a 3 mm CT one joint's
   valley can show where the other's does not): the sacrum and the other hip bone are then split alike, the absent
   side having no seeds (it must hold none of the component beyond the work slab).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import morphology
from ..geometry.bounding_box import bounding_box
from ..geometry.resample import block_max, unblock
from ..geometry.voxel_index import lps_coordinate_of_box, nonzero_kji
from .joints import MIN_VALLEY_DEPTH, valley_depth

SACRUM_SEED_MM = 15.0
HIP_SEED_MM = 75.0
SEED_BAND_MM = 5.0  # the hip bones' seeds: this band beyond HIP_SEED_MM; the split works within it
MIN_RING_ML = 300.0
MIN_SACRUM_ML = 50.0
MIN_HIP_ML = 100.0
MIN_JOINT_FRACTION = 0.65  # measured: 0.72 on a real 1 mm CT, 1.0 on the elderly phantom at 2 mm; a split through
# the posterior ilium of the same real CT averaged to 2-3 mm, where the joint is too blurred to follow, 0.57-0.60
COST_SCALE = 1000.0  # valley depth (a fraction) to the watershed's integer cost


def split_pelvic_ring(env_labels: np.ndarray, hu: np.ndarray, geometry, reach_kji, bone_threshold_hu: float,
                      x_mid_lps: float, objects: list | None = None) -> dict | None:
    """Split the largest midline component of ``env_labels`` (in place) into sacrum and hip bones, or sacrum and one hip
    bone (see module doc).

    ``bone_threshold_hu``: the model's candidate-bone threshold; ``reach_kji``: a joint's half width plus one original
    voxel, in voxels per axis; ``x_mid_lps``: the midline (LPS x, mm). Returns ``{"sacrum": label, "hip bones":
    [labels], "joint": mask}`` (the joint mask over the whole grid), or None when the ring is not split.
    ``objects``: ``ndimage.find_objects(env_labels)`` when the caller has it."""
    objects = ndimage.find_objects(env_labels) if objects is None else objects
    rings = []
    for lab, box in enumerate(objects, start=1):
        if box is None:
            continue
        lo = geometry.ijk_to_lps(np.array([[s.start for s in box][::-1]], float))[0, 0]
        hi = geometry.ijk_to_lps(np.array([[s.stop - 1 for s in box][::-1]], float))[0, 0]
        if min(lo, hi) < x_mid_lps < max(lo, hi):
            n = int(np.count_nonzero(env_labels[box] == lab))
            if n * geometry.voxel_volume_mm3 / 1000.0 >= MIN_RING_ML:
                rings.append((n, lab, box))
    if not rings:
        return None
    _, lab, box = max(rings)
    ring_box = env_labels[box] == lab
    dx, y = _lps_xy(geometry, box)
    dx -= np.float32(x_mid_lps)  # in place: x is not needed
    y_centre = float(y[ring_box].mean())
    # the work: a slab across the midline reaching just past the hip bones' seeds; beyond it each side is its hip bone
    slab = ring_box & (np.abs(dx) <= HIP_SEED_MM + SEED_BAND_MM)
    work = bounding_box(slab)
    if work is None:
        return None
    ring, dxw, yw = slab[work], dx[work], y[work]
    del y
    hu_w = np.asarray(hu[box][work], np.float32)
    bone = ring & (hu_w >= bone_threshold_hu)
    seeds = np.zeros(ring.shape, np.int16)
    sacrum_seeds = bone & (np.abs(dxw) < SACRUM_SEED_MM) & (yw > y_centre)
    del yw
    if not sacrum_seeds.any():
        return None
    seeds[sacrum_seeds] = 1
    # one hip bone may already be a bone of its own (its joint resolved by the candidate bone): the other is split off
    # alone; a side without seeds must then hold no part of the component beyond the work slab
    hips = []  # the sides (2 left, 3 right) whose hip bone is in this component
    for value, sign in ((2, 1.0), (3, -1.0)):
        sel = bone & (sign * dxw > HIP_SEED_MM)
        if sel.any():
            seeds[sel] = value
            hips.append(value)
        elif np.any(ring_box & (sign * dx > HIP_SEED_MM + SEED_BAND_MM)):
            return None
    if not hips:
        return None
    depth = valley_depth(hu_w, reach_kji, bone_threshold_hu)
    # the flood runs on blocks of 2 x 2 x 2 voxels: a block is bone where any voxel is, costs its deepest valley (a
    # joint one voxel wide still bars the way) and is seeded by its seeds (the largest label where several meet)
    cost = np.minimum(block_max(depth) * COST_SCALE, COST_SCALE).astype(np.uint16)
    bone_b = block_max(bone)
    cost[~bone_b] = np.iinfo(np.uint16).max
    seeds_b = block_max(seeds)
    flooded = ndimage.watershed_ift(cost, seeds_b)
    del cost
    flooded[~bone_b] = 0
    for value in (1, 2, 3):  # islands of dense bone (trabeculae inside a marrow space) reached across the marrow
        pieces, _ = ndimage.label(flooded == value)
        attached = np.unique(pieces[seeds_b == value])
        flooded[(pieces > 0) & ~np.isin(pieces, attached[attached > 0])] = 0
    # marrow, lesions, filled gaps and those islands: the label of the nearest flooded block
    block_mm = 2.0 * np.asarray(geometry.spacing[::-1], float)
    nearest = ndimage.distance_transform_edt(flooded == 0, sampling=block_mm, return_distances=False, return_indices=True)
    flooded = flooded[tuple(nearest)]
    del nearest
    parts = np.where(ring, unblock(flooded, ring.shape), 0).astype(np.int16)
    del flooded
    parts_box = np.zeros(ring_box.shape, np.int16)
    parts_box[ring_box & (dx > 0)] = 2
    parts_box[ring_box & (dx <= 0)] = 3
    del dx
    parts_box[work][ring] = parts[ring]
    voxel_ml = geometry.voxel_volume_mm3 / 1000.0
    sizes = [np.count_nonzero(parts_box == v) for v in range(4)]  # not np.bincount: it widens the box to int64
    if sizes[1] * voxel_ml < MIN_SACRUM_ML or min(sizes[h] for h in hips) * voxel_ml < MIN_HIP_ML:
        return None
    sacrum = parts == 1
    joint = np.zeros(ring.shape, bool)
    for hip in hips:
        interface = sacrum & morphology.dilate(parts == hip, 1)  # its 6 neighbours
        if not interface.any() or (_max_around(depth, interface) > MIN_VALLEY_DEPTH).mean() < MIN_JOINT_FRACTION:
            return None
        joint |= interface
    first_new = len(objects) + 1
    joint_box = np.zeros(ring_box.shape, bool)
    joint_box[work] = joint
    view = env_labels[box]
    view[ring_box] = 0
    view[(parts_box == 1) & ~joint_box] = lab
    new_labels = [first_new + n for n in range(len(hips))]
    for hip, new_label in zip(hips, new_labels):
        view[parts_box == hip] = new_label
    full = np.zeros(env_labels.shape, bool)
    full[box][joint_box] = True  # only the joint's voxels written: the rest of the fresh grid is never touched
    return {"sacrum": lab, "hip bones": new_labels, "joint": full}


def _lps_xy(geometry, box) -> tuple[np.ndarray, np.ndarray]:
    """LPS x and y (mm, float32) of every voxel of ``box`` (slices k, j, i)."""
    return lps_coordinate_of_box(geometry, box, 0), lps_coordinate_of_box(geometry, box, 1)


def _max_around(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """At the voxels of ``mask`` (raster order): the maximum of ``a`` over their 3 x 3 x 3 neighbourhood within the
    array (``ndimage.maximum_filter(a, size=3)[mask]``, read at those voxels only)."""
    kji = nonzero_kji(mask)
    top = np.array(a.shape) - 1
    out = None
    for step in np.ndindex(3, 3, 3):
        near = np.clip(kji + (np.array(step) - 1), 0, top)
        values = a[near[:, 0], near[:, 1], near[:, 2]]
        out = values if out is None else np.maximum(out, values)
    return out
