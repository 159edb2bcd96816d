"""No-go structures found from the CT: the sacral canal and the sacral foramina (S1, S2, ...); the hip joints'
cartilage spaces are found in ``bone.hip_joint`` (kind ``ARTICULAR``), the greater sciatic notches in
``bone.sciatic_notch``.

They are tunnels of soft tissue (nerve roots, fat, CSF: below ``TUNNEL_MAX_HU``) through the sacrum, lined by
cortical bone. The bone model's hole filling may have made parts of an oblique tunnel "bone", so they are found from
the CT: in the sacrum's box, tunnel candidates are the voxels of soft-tissue HU that are either inside the sacrum's
envelope or enclosed by it in the 2D slices of some orientation, less the parts wider than any tunnel (within
``TUNNEL_MAX_RADIUS_MM`` of a point deeper than that: a lytic lesion beside the canal, fatty marrow), so that a
tunnel touching one is still found (and not grown into it, below). Connected candidates are a tunnel when at least
``MIN_TUNNEL_ML``, thin (no point deeper than ``TUNNEL_MAX_RADIUS_MM`` in it: osteoporotic or fatty marrow of a
vertebral body or the ala is thicker) and walled by cortex (``LINING_MIN_HU`` within a voxel of half of their wall),
or thin and crossing the midline: in a real sacrum the canal and the foramina opening from it (with the lumbar canal
above) form one network whose wall is largely openings, not cortex, and it is kept whole as the canal. The one
crossing the midline (or nearest to it) is the sacral canal; the others more than ``FORAMEN_MIN_LATERAL_MM`` from the
midline are foramina, named by side and numbered from the top (S1, S2, ...); tunnels nearer to the midline stay
no-go structures, unnamed ("sacral tunnel 1", ...). Each tunnel kept is grown to its wall's mid-level: into the
neighbouring voxels (up to ``WALL_REACH_MM``) below the level halfway between soft tissue and the brightest lining
within that reach, where the bone surface is placed (bone.model): the partial volume of the lining reads above
``TUNNEL_MAX_HU`` about a millimetre into the tunnel (measured on the phantom: foramina of 4 mm radius found as about
3 mm without the growth, their no-go distance 0.8-1.3 mm too large; within 0.5 mm with it). Each structure is kept as its voxel centres (LPS) for distance
queries.
Run on grids up to 1.6 mm (coarser CTs: not assessed, see bone.ct_quality).

A screw's clearance to a structure = distance from its axis to the nearest voxel centre of the structure, minus
half a voxel (the tunnel's wall lies between centres), minus the screw's radius; below 0 the screw enters it: a
"neural" breach. Not assessed where the sacrum is not a separate bone in the model (a pelvic ring whose sacroiliac
joints are fused or unresolved).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..geometry.bounding_box import grown_box
from ..geometry.morphology import slice_holes
from ..geometry.voxel_index import nonzero_kji
from .distance_field import depth_mm
from .labels import SOFT_TISSUE_HU

MIN_TUNNEL_ML = 0.15
TUNNEL_MAX_HU = 60.0
TUNNEL_MAX_RADIUS_MM = 7.5
LINING_MIN_HU = 350.0
WALL_REACH_MM = 2.0
CANAL = "sacral canal"
FORAMEN_MIN_LATERAL_MM = 15.0  # the sacral foramina lie 20-35 mm from the midline; a tunnel nearer is not named one
EXACT_WITHIN_MM = 20.0  # clearances to a structure are exact up to this, lower bounds beyond
NEURAL, ARTICULAR = "neural", "articular"  # what a screw entering the structure hits: nerve roots, a joint's cartilage
ENHANCED = "contrast-enhanced"  # an opacified vessel or organ (bone.contrast): bleeding, cement embolism, perforation


@dataclass
class NogoStructure:
    name: str
    points_lps: np.ndarray = field(repr=False)
    half_voxel_mm: float = 0.5
    kind: str = NEURAL
    half_widths_mm: np.ndarray | None = field(default=None, repr=False)  # per point, replacing half_voxel_mm (a sheet's half thickness)
    _tree: cKDTree | None = field(default=None, repr=False)
    _centre: np.ndarray | None = field(default=None, repr=False)
    _reach: float = 0.0

    def clearance_mm(self, axis_points_lps: np.ndarray, radius_mm: float) -> float:
        """Minimum clearance (mm) between a screw of this radius along these axis points and the structure; exact up
        to ``EXACT_WITHIN_MM``, a lower bound beyond (from the structure's bounding sphere: it is far)."""
        if self._tree is None:
            self._tree = cKDTree(self.points_lps)
            self._centre = self.points_lps.mean(axis=0)
            self._reach = float(np.linalg.norm(self.points_lps - self._centre, axis=1).max())
        pts = np.asarray(axis_points_lps, float)
        half = self.half_voxel_mm if self.half_widths_mm is None else float(self.half_widths_mm.max())
        offset = half + radius_mm
        d, i = self._tree.query(pts, distance_upper_bound=EXACT_WITHIN_MM + offset)
        near = np.isfinite(d)
        if near.any():
            if self.half_widths_mm is not None:
                return float((d[near] - self.half_widths_mm[i[near]]).min() - radius_mm)
            return float(d.min() - offset)
        lower = float(np.linalg.norm(pts - self._centre, axis=1).min()) - self._reach
        return max(lower, EXACT_WITHIN_MM + offset) - offset


def _enclosed_in_slices(mask: np.ndarray) -> np.ndarray:
    """Background voxels enclosed by ``mask`` in the 2D slices of at least one orientation (the three at once: worker
    threads, the labelling releases the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(slice_holes, mask, axis) for axis in (1, 2)]
        out = slice_holes(mask, 0)
        for job in jobs:
            out |= job.result()
    return out


def thin_pieces(candidates: np.ndarray, hu: np.ndarray, spacing_kji, min_voxels: float,
                labelled: tuple[np.ndarray, int] | None = None) -> list[tuple[np.ndarray, bool]]:
    """``([k, j, i] indices, lined by cortex)`` of the candidate regions large and thin enough to be tunnels (see module
    docstring); ``labelled``: the candidates' ``ndimage.label`` when the caller has it.

    Each region of at least ``min_voxels`` is read in its own box: its depth (distance to the nearest voxel outside
    it) in its box grown by one voxel, with the other regions outside (the nearest outside voxel is next to the region,
    and every voxel nearer than it belongs to the region: the same depths as over the whole array); its wall (the
    voxels outside the candidates whose 3 x 3 x 3 neighbourhood holds it, the highest label there) and the wall's peak
    HU in that box grown by one more voxel, which holds those neighbourhoods."""
    lab, n = labelled if labelled is not None else ndimage.label(candidates)
    if n == 0:
        return []
    spacing = np.asarray(spacing_kji, float)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    boxes = ndimage.find_objects(lab, max_label=n)
    out = []
    for k in range(1, n + 1):
        if sizes[k] < min_voxels:
            continue
        box = boxes[k - 1]
        near = grown_box(box, 1, lab.shape)
        if np.any(depth_mm(lab[near] == k, spacing) > TUNNEL_MAX_RADIUS_MM):
            continue  # thicker than a tunnel
        reach = grown_box(box, 2, lab.shape)
        inner = tuple(slice(a.start - b.start, a.stop - b.start) for a, b in zip(near, reach))  # ``near`` within ``reach``
        wall = (ndimage.grey_dilation(lab[reach], size=(3, 3, 3))[inner] == k) & ~candidates[near]
        peak = ndimage.maximum_filter(hu[reach], size=3)[inner]  # the wall's first voxel: a partial volume of tissue and cortex
        lined = np.count_nonzero(peak[wall] >= LINING_MIN_HU) >= 0.5 * max(np.count_nonzero(wall), 1)
        out.append((nonzero_kji(lab[box] == k) + [b.start for b in box], bool(lined)))
    return out


def _grown_to_wall(kji: np.ndarray, hu: np.ndarray, within: np.ndarray, spacing_kji) -> np.ndarray:
    """The piece's [k, j, i] indices grown inside ``within`` to its wall's mid-level (module docstring)."""
    steps = max(1, int(round(WALL_REACH_MM / float(min(spacing_kji)))))
    lo = np.maximum(kji.min(axis=0) - 2 * steps, 0)
    hi = np.minimum(kji.max(axis=0) + 2 * steps + 1, hu.shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    piece = np.zeros(hi - lo, bool)
    piece[tuple((kji - lo).T)] = True
    sub = hu[crop]
    lining = ndimage.maximum_filter(sub, size=2 * steps + 1)
    growable = within[crop] & (sub < 0.5 * (SOFT_TISSUE_HU + lining))
    return nonzero_kji(ndimage.binary_dilation(piece, iterations=steps, mask=growable | piece)) + lo


def _wide_parts(candidates: np.ndarray, spacing_kji) -> np.ndarray:
    """The candidate voxels within ``TUNNEL_MAX_RADIUS_MM`` of a point deeper than that (the candidates' opening by
    a ball of that radius): soft regions wider than any tunnel (a lytic lesion, fatty marrow), cut off so that a
    thin network touching one (the canal beside a lesion in the S1 body) stays a tunnel."""
    core = depth_mm(candidates, spacing_kji) > TUNNEL_MAX_RADIUS_MM
    if not core.any():
        return core
    return candidates & (depth_mm(~core, spacing_kji) <= TUNNEL_MAX_RADIUS_MM)


def find_sacral_nogo(bone, hu: np.ndarray) -> list[NogoStructure]:
    """The sacral canal and foramina of the bone model (empty when there is no separate sacrum); ``hu``: the CT on
    the bone model's grid. Reads the model's components and component labels, not its distance field (the bone model
    computes that meanwhile)."""
    comp = next((c for c in bone.components if c.get("kind") == "sacrum"), None)
    if comp is None or bone.component_labels is None:
        return []
    box = comp["box"]
    sacrum = bone.component_labels[box] == comp["label"]
    enclosed = _enclosed_in_slices(np.pad(sacrum, 1))[1:-1, 1:-1, 1:-1]
    sub_hu = np.asarray(hu[box], np.float32)
    candidates = (sub_hu < TUNNEL_MAX_HU) & (sacrum | enclosed)
    g = bone.geometry
    wide = _wide_parts(candidates, g.spacing[::-1])
    candidates &= ~wide
    offset = np.array([s.start for s in box])
    from .components import midline_x_lps

    mid = midline_x_lps(bone)

    def crosses_midline(p):
        return bool(p[:, 0].min() < mid < p[:, 0].max())

    pieces = []
    for kji, lined in thin_pieces(candidates, sub_hu, g.spacing[::-1], MIN_TUNNEL_ML * 1000.0 / g.voxel_volume_mm3):
        p = g.ijk_to_lps((kji + offset)[:, ::-1].astype(float))
        if lined or crosses_midline(p):  # the canal network of a real sacrum is largely openings, not cortex
            kji = _grown_to_wall(kji, sub_hu, (sacrum | enclosed) & ~wide, g.spacing[::-1])
            pieces.append(g.ijk_to_lps((kji + offset)[:, ::-1].astype(float)))
    if not pieces:
        return []
    half = 0.5 * float(min(g.spacing))
    canal_i = min(range(len(pieces)), key=lambda i: (not crosses_midline(pieces[i]), abs(pieces[i][:, 0].mean() - mid)))
    out = [NogoStructure(CANAL, pieces[canal_i], half)]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        foramina = sorted((p for i, p in enumerate(pieces) if i != canal_i and sign * (p[:, 0].mean() - mid) > FORAMEN_MIN_LATERAL_MM),
                          key=lambda p: -p[:, 2].mean())
        out += [NogoStructure(f"{side} S{level} foramen", p, half) for level, p in enumerate(foramina, start=1)]
    near = [p for i, p in enumerate(pieces) if i != canal_i and abs(p[:, 0].mean() - mid) <= FORAMEN_MIN_LATERAL_MM]
    out += [NogoStructure(f"sacral tunnel {k}", p, half) for k, p in enumerate(near, start=1)]  # unnamed, still no-go
    return out
