"""The lumbar vertebra above the sacrum split off at the lumbosacral (L5-S1) disc, so that the sacrum's volume, its
canal and foramina and the corridors' landmarks are the sacrum's alone.

A scan reaching above the sacrum holds L5 (and perhaps L4). The closing that makes the envelope solid and the bone
bridging the disc's margin (an osteophyte) join it to the sacrum in one piece, and the disc between them shows as no
valley of the distance map. The disc does show in the anterior column: a slab of soft tissue between two endplates
where the vertebral bodies' cross-section is almost free of bone.

1. The column: the sacrum's voxels within ``COLUMN_HALF_WIDTH_MM`` of the midline and ``SEARCH_DEPTH_MM`` of its top
   (LPS z), cut into 1 mm levels (or the grid's coarsest spacing) across a plane tilted by 0 to ``MAX_TILT_DEG`` about the left-right axis (the disc
   rises backward: the lumbosacral angle); per level the vertebral body is the column's front ``BODY_DEPTH_MM``.
2. The disc is a level whose body holds at most ``DISC_MAX_BONE_FRACTION`` of the bone voxels (at or above the model's
   bone threshold) of the bodies ``BODY_CHECK_MM`` above and below it (each their median over that depth): the lowest
   such level, at the tilt where its least bone count is least, and of those where the disc is thickest (the levels
   around it holding at most ``DISC_LEVEL_FRACTION`` times that count: a plane across the disc meets the endplates
   sooner).
3. The sacrum's voxels above the disc's middle plane connected to the lumbar body there become a new component (at
   least ``MIN_LUMBAR_ML``); the disc's soft tissue between the endplates (below the bone threshold, in the body's
   slab: the closing filled it) is not bone.
Nothing is done when no such disc is found (no vertebra above the sacrum, or one fused to it).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry.bounding_box import bounding_box
from ..geometry.voxel_index import lps_coordinate_of_box
from .components import component_summary

SEARCH_DEPTH_MM = 90.0
COLUMN_HALF_WIDTH_MM = 12.0
BODY_DEPTH_MM = 35.0  # a lumbar or S1 vertebral body is 30-40 mm deep (front to back)
DISC_HALF_WIDTH_MM = 25.0  # the disc's soft tissue removed within this of the midline
MAX_TILT_DEG = 50.0
TILT_STEP_DEG = 2.0
BODY_CHECK_MM = 8.0
DISC_MAX_BONE_FRACTION = 0.2
DISC_LEVEL_FRACTION = 2.0  # the disc's slab: the levels around its least bone count holding at most this times that
MIN_LUMBAR_ML = 15.0
LEVEL_MM = 1.0  # the levels' thickness (at least the grid's coarsest spacing)


def split_lumbar(env_labels: np.ndarray, hu: np.ndarray, geometry, sacrum: int, new_label: int, bone_threshold_hu: float,
                 x_mid_lps: float, box: tuple | None = None) -> dict | None:
    """Split the lumbar vertebra off the sacrum (label ``sacrum`` of ``env_labels``, in place, as ``new_label``) at the
    L5-S1 disc (module doc); ``box``: the sacrum's bounding box (slices k, j, i) when the caller has it. Returns
    ``{"label", "normal_lps", "offset_mm", "tilt_deg"}`` (the disc's middle plane: the points p with normal . p =
    offset) or None when nothing was split."""
    box = bounding_box(env_labels == sacrum) if box is None else box
    if box is None:
        return None
    z = lps_coordinate_of_box(geometry, box, 2)
    own = env_labels[box] == sacrum
    if not own.any():
        return None
    region = own & (z > z[own].max() - SEARCH_DEPTH_MM)
    sub = bounding_box(region)
    box = tuple(slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, sub))
    own, region, z = own[sub], region[sub], z[sub]
    dx = np.abs(lps_coordinate_of_box(geometry, box, 0) - np.float32(x_mid_lps))
    y = lps_coordinate_of_box(geometry, box, 1)
    bone = np.asarray(hu[box]) >= bone_threshold_hu
    column = region & (dx < COLUMN_HALF_WIDTH_MM)
    if not column.any():
        return None
    disc = _find_disc(y[column], z[column], bone[column], max(LEVEL_MM, float(max(geometry.spacing))))
    if disc is None:
        return None
    tilt, level, slab = disc
    s_n, c_n = np.sin(np.radians(tilt)), np.cos(np.radians(tilt))
    s = np.float32(c_n) * z - np.float32(s_n) * y  # along the disc's normal (0, -sin, cos): up and forward
    del z
    pieces, n = ndimage.label(region & (s > level))
    if n == 0:
        return None
    # the lumbar body: the piece holding most of the column's bone within BODY_CHECK_MM above the disc
    near = column & bone & (s > level) & (s <= level + BODY_CHECK_MM)
    counts = np.bincount(pieces[near], minlength=n + 1)
    counts[0] = 0
    lumbar = pieces == int(np.argmax(counts))
    if np.count_nonzero(lumbar) * geometry.voxel_volume_mm3 / 1000.0 < MIN_LUMBAR_ML:
        return None
    # the disc's soft tissue between the endplates, in the bodies' slab near the midline: not bone
    soft = own & ~bone & (s > slab[0]) & (s < slab[1]) & (dx < DISC_HALF_WIDTH_MM)
    if soft.any():
        soft &= y < np.float32(y[soft].min() + BODY_DEPTH_MM)
    view = env_labels[box]
    view[lumbar] = new_label
    view[soft] = 0
    return {"label": new_label, "normal_lps": [0.0, -float(s_n), float(c_n)], "offset_mm": float(level), "tilt_deg": float(tilt)}


def _find_disc(y: np.ndarray, z: np.ndarray, bone: np.ndarray, level_mm: float = LEVEL_MM):
    """(tilt in degrees, the disc's middle level, (low, high) levels of its slab; in mm along the disc's normal) of the
    column's points (LPS y, z and whether bone) or None: see module doc, step 2. ``level_mm``: the levels' thickness, no
    less than the grid's coarsest spacing (on a 1.5 mm grid every third 1 mm level held no voxel centre: a "disc")."""
    found = []
    check = max(1, int(round(BODY_CHECK_MM / level_mm)))
    yi = np.floor(y - y.min()).astype(np.intp)
    for tilt in np.arange(0.0, MAX_TILT_DEG + 1e-6, TILT_STEP_DEG):
        s = np.cos(np.radians(tilt)) * z - np.sin(np.radians(tilt)) * y
        base = float(np.floor(s.min()))
        lev = np.floor((s - base) / level_mm).astype(np.intp)
        nlev = int(lev.max()) + 1
        if nlev < 2 * check + 1:
            continue
        occupied = np.zeros((nlev, int(yi.max()) + 1), bool)
        occupied[lev, yi] = True
        front = np.argmax(occupied, axis=1)  # per level, the column's front (mm from its least y)
        counts = np.bincount(lev[bone & (yi < front[lev] + BODY_DEPTH_MM)], minlength=nlev).astype(float)
        medians = np.median(np.lib.stride_tricks.sliding_window_view(counts, check), axis=1)
        below, above = medians[:nlev - 2 * check], medians[check + 1:]  # levels check .. nlev - check - 1
        body = np.minimum(below, above)
        disc = np.flatnonzero((counts[check:nlev - check] <= DISC_MAX_BONE_FRACTION * body) & (body > 0))
        if not len(disc):
            continue
        m = int(disc[0]) + check  # the lowest disc level; its slab: the levels around its least count
        while m + 1 < nlev and counts[m + 1] < counts[m]:
            m += 1
        limit = DISC_LEVEL_FRACTION * max(counts[m], 1.0)
        a, b = m, m
        while a > 0 and counts[a - 1] <= limit:
            a -= 1
        while b + 1 < nlev and counts[b + 1] <= limit:
            b += 1
        found.append((counts[m], -(b - a), tilt, base + 0.5 * (a + b + 1) * level_mm, (base + a * level_mm, base + (b + 1) * level_mm)))
    if not found:
        return None
    _, _, tilt, level, slab = min(found)
    return tilt, level, slab


def split_lumbar_component(env_labels: np.ndarray, hu: np.ndarray, geometry, comps: list, bone_threshold_hu: float,
                           x_mid_lps: float) -> dict | None:
    """:func:`split_lumbar` on the component dict of ``comps`` named "sacrum" (by the sacroiliac joint search); its
    summary is read again and the lumbar part's appended with ``lumbar`` True (``name_components`` names it). Returns
    the disc's plane as :func:`split_lumbar` does, or None."""
    sacrum = next((c for c in comps if c.get("name") == "sacrum"), None)
    if sacrum is None:
        return None
    new_label = int(env_labels.max()) + 1
    if new_label > np.iinfo(env_labels.dtype).max:
        return None
    disc = split_lumbar(env_labels, hu, geometry, sacrum["label"], new_label, bone_threshold_hu, x_mid_lps, sacrum["box"])
    if disc is None:
        return None
    box = sacrum["box"]
    for label, extra in ((sacrum["label"], {"name": "sacrum"}), (new_label, {"lumbar": True})):
        tight = bounding_box(env_labels[box] == label)
        summary = component_summary(env_labels, label, tuple(slice(b.start + t.start, b.start + t.stop) for b, t in zip(box, tight)),
                                    geometry)
        summary.update(extra)
        if label == sacrum["label"]:
            sacrum.clear()
            sacrum.update(summary)
        else:
            comps.append(summary)
    return disc
