"""Simulated cement injection (cementoplasty) on the bone model's grid: a priority flood from the needle tip.

The cement fills, one voxel at a time, the cheapest voxel adjacent (6-connected) to the cement so far; the
key of a voxel is its resistance plus ``distance_weight`` per mm of distance to the injection point (so that
equal resistances fill as a ball).  Resistance: lesion voxels 0 (lytic lesions first); cancellous bone
(label 2) ``1 + max(HU, 0) / hu_scale``; never intact cortex (label 1), metal (3), a joint (4) or outside the
envelope (0) -- except voxels of a lesion, so cement reaches the defect of a lesion that breaks the cortex.
The planned screws' volume (cylinders of their radius) is never filled: cement flows around them, and the screws
it touches are reported. The flood stops at the requested volume (to one voxel) or when nothing more is reachable
(a warning).

Leakage risk: distances (mm, between voxel centres) from the cement to soft tissue through a lesion's
cortical defect, to the bone surface, to a joint space (non-bone voxels between two bone components no more
than ``joint_gap_mm`` apart: the hip joint), to the sacroiliac joint (label 4) and to the sacral canal and foramina
(``bone.nogo``: cement there reaches the nerve roots); ``at_risk`` when one is at most ``leak_margin_mm``. The
sacral canal and foramina are not assessed where the bone model has no separate sacrum (``not_assessed``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..bone.labels import BACKGROUND, CANCELLOUS, CORTEX, JOINT, METAL
from ..errors import PosteoInputError
from ..geometry.frames import ImageGeometry
from .segmentation import box_around, ct_on_bone_grid

NOT_ASSESSED = ["sacral foramina / spinal canal: no separate sacrum in the bone model, not assessed"]


@dataclass
class CementParameters:
    hu_scale: float = 500.0
    distance_weight: float = 0.01  # per mm
    leak_margin_mm: float = 3.0
    joint_gap_mm: float = 6.0
    max_volume_ml: float = 100.0


@dataclass
class CementResult:
    """Cement mask ``[k, j, i]`` on the bone model's grid and the injection's report (LPS mm, mL)."""

    name: str
    geometry: ImageGeometry
    mask: np.ndarray
    injection_lps: np.ndarray
    requested_ml: float
    volume_ml: float
    lesion_fill_fraction: dict
    screws_in_contact: list
    leak_risk: dict
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "injection_lps": [float(v) for v in self.injection_lps], "requested_ml": self.requested_ml,
                "volume_ml": self.volume_ml, "lesion_fill_fraction": dict(self.lesion_fill_fraction),
                "screws_in_contact": list(self.screws_in_contact), "leak_risk": self.leak_risk, "warnings": list(self.warnings)}


def _flood(passable_cost, start: int, shape, spacing_kji, start_kji, n_target: int, stop=None) -> np.ndarray:
    """Flat indices of the filled voxels in fill order (priority flood)."""
    nk, nj, ni = shape
    filled = np.zeros(nk * nj * ni, bool)
    queued = np.zeros_like(filled)
    heap = [(0.0, start)]
    queued[start] = True
    order = []
    while heap and len(order) < n_target:
        _, v = heapq.heappop(heap)
        filled[v] = True
        order.append(v)
        if stop is not None and stop(v):
            break
        k, r = divmod(v, nj * ni)
        j, i = divmod(r, ni)
        for dk, dj, di in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
            kk, jj, ii = k + dk, j + dj, i + di
            if not (0 <= kk < nk and 0 <= jj < nj and 0 <= ii < ni):
                continue
            w = (kk * nj + jj) * ni + ii
            if queued[w]:
                continue
            queued[w] = True
            c = passable_cost(kk, jj, ii)
            if c is None:
                continue
            d = np.sqrt(((np.array([kk, jj, ii]) - start_kji) ** 2 * spacing_kji ** 2).sum())
            heapq.heappush(heap, (c + d, w))
    return np.asarray(order, np.int64)


def _point_segment_distances(p, a, b) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def simulate_cement(ct, bone, injection_lps, volume_ml: float | None = None, lesions=(), name: str = "cement",
                    fill_fraction: float | None = None, screws=(), params: CementParameters | None = None) -> CementResult:
    """Simulate ``volume_ml`` mL of cement (or ``fill_fraction`` of the lesion holding the injection point)
    injected at ``injection_lps`` (LPS mm).  ``lesions``: :class:`lesions.Lesion` objects; ``screws``: Screw objects."""
    params = params or CementParameters()
    src = f"cement '{name}'"
    p = np.asarray(injection_lps, float).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise PosteoInputError(src, f"injection point must be 3 finite LPS coordinates, got {p.tolist()}")
    g = bone.geometry
    if not g.contains_lps(p[None])[0]:
        raise PosteoInputError(src, f"injection point {np.round(p, 1).tolist()} (LPS mm) lies outside bone (beyond the bone model)")
    hu = ct_on_bone_grid(ct, bone)
    labels = bone.labels
    lesion_id = np.zeros(g.shape_kji, np.uint8)
    for n, les in enumerate(lesions, start=1):
        lesion_id[les.box][les.mask] = n
    start_kji = np.rint(g.lps_to_ijk(p)).astype(int)[::-1]
    s0 = tuple(int(v) for v in start_kji)
    voxel_ml = g.voxel_volume_mm3 / 1000.0
    blocked = screw_voxels(screws, g)  # the planned screws' volume: cement flows around them
    if blocked[s0]:
        raise PosteoInputError(src, f"injection point {np.round(p, 1).tolist()} (LPS mm) lies inside a planned screw: move the "
                                    "needle tip off the screw (or inject through a fenestrated screw, not modelled)")
    target_lesion = None
    if fill_fraction is not None:
        f = float(fill_fraction)
        if not np.isfinite(f) or not 0 < f <= 1:
            raise PosteoInputError(src, f"fill fraction must be in (0, 1], got {fill_fraction}")
        if lesion_id[s0] == 0:
            raise PosteoInputError(src, f"fill fraction given but the injection point {np.round(p, 1).tolist()} (LPS mm) lies in no lesion")
        target_lesion = int(lesion_id[s0])
        free = int(((lesion_id == target_lesion) & ~blocked).sum())  # the screws' share of the lesion cannot be filled
        n_lesion_target = max(1, int(round(f * free)))
        volume_ml = n_lesion_target * voxel_ml
    if volume_ml is None or not np.isfinite(float(volume_ml)) or float(volume_ml) <= 0:
        raise PosteoInputError(src, f"volume must be > 0 mL, got {volume_ml}")
    volume_ml = float(volume_ml)
    if volume_ml > params.max_volume_ml:
        raise PosteoInputError(src, f"volume {volume_ml} mL exceeds the plausible maximum {params.max_volume_ml} mL")
    scale = float(params.hu_scale)

    def cost(k, j, i):
        if blocked[k, j, i]:
            return None
        if lesion_id[k, j, i]:
            return 0.0 if hu[k, j, i] < 600.0 else 1.0 + max(float(hu[k, j, i]), 0.0) / scale
        if labels[k, j, i] == CANCELLOUS:
            return 1.0 + max(float(hu[k, j, i]), 0.0) / scale
        return None

    c0 = cost(*s0)
    if c0 is None:
        what = {BACKGROUND: "outside bone", CORTEX: "in intact cortex", METAL: "in metal", JOINT: "in the sacroiliac joint"}[int(labels[s0])]
        raise PosteoInputError(src, f"injection point {np.round(p, 1).tolist()} (LPS mm) lies {what}: cement cannot be injected there")
    n_target = max(1, int(round(volume_ml / voxel_ml)))
    sp = np.asarray(g.spacing[::-1], float)
    shape = g.shape_kji
    stop = None
    if target_lesion is not None:
        flat_les = lesion_id.reshape(-1)
        count = [0]

        def stop(v):
            count[0] += flat_les[v] == target_lesion
            return count[0] >= n_lesion_target
        n_target = int(params.max_volume_ml / voxel_ml)
    dw = params.distance_weight

    def keyed(k, j, i):
        c = cost(k, j, i)
        return None if c is None else c / dw  # distance added in mm by _flood: key = cost + weight * distance
    start = int(np.ravel_multi_index(s0, shape))
    order = _flood(keyed, start, shape, sp, start_kji, n_target, stop)
    mask = np.zeros(int(np.prod(shape)), bool)
    mask[order] = True
    mask = mask.reshape(shape)
    warnings = []
    actual = float(len(order) * voxel_ml)
    if target_lesion is None and len(order) < n_target:
        warnings.append(f"only {actual:.2f} mL reachable from the injection point (requested {volume_ml:.2f} mL): "
                        "the space bounded by intact cortex is full")
    fills = {}
    for n, les in enumerate(lesions, start=1):
        fills[les.name] = float((lesion_id[mask] == n).sum() / max(1, int(les.mask.sum())))
    kji = np.argwhere(mask)
    pts = g.ijk_to_lps(kji[:, ::-1].astype(float))
    contact = []
    for s in screws or ():
        d = _point_segment_distances(pts, s.entry_lps, s.tip_lps)
        if len(d) and d.min() <= s.radius_mm + max(g.spacing):  # cement next to the screw's surface
            contact.append(s.name)
    leak = leak_risk(mask, labels, lesion_id, [bool(getattr(l, "cortical_breakthrough", False)) for l in lesions], g, params,
                     bone.nogo_structures())
    return CementResult(name, g, mask, p, volume_ml, actual, fills, contact, leak, warnings)


def screw_voxels(screws, g: ImageGeometry) -> np.ndarray:
    """[k, j, i] mask of the grid voxels whose centre lies inside a screw (cylinder of the screw's radius around the
    segment entry-tip, LPS mm), computed in each screw's bounding box."""
    out = np.zeros(g.shape_kji, bool)
    for s in screws or ():
        a, b, r = np.asarray(s.entry_lps, float), np.asarray(s.tip_lps, float), float(s.radius_mm)
        corners = np.array([[x, y, z] for x in (min(a[0], b[0]) - r, max(a[0], b[0]) + r) for y in (min(a[1], b[1]) - r, max(a[1], b[1]) + r)
                            for z in (min(a[2], b[2]) - r, max(a[2], b[2]) + r)])
        ijk = g.lps_to_ijk(corners)
        lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.array(g.size))
        hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, np.array(g.size))
        if np.any(hi <= lo):
            continue
        k, j, i = np.meshgrid(*[np.arange(lo[ax], hi[ax]) for ax in (2, 1, 0)], indexing="ij")
        idx = np.column_stack([i.ravel(), j.ravel(), k.ravel()])
        inside = _point_segment_distances(g.ijk_to_lps(idx.astype(float)), a, b) <= r
        out[k.ravel()[inside], j.ravel()[inside], i.ravel()[inside]] = True
    return out


def leak_risk(mask, labels, lesion_id, breakthrough, g: ImageGeometry, params: CementParameters, nogo=None) -> dict:
    """Distances (mm) from the cement to the leak paths (see module docstring) and the at-risk reasons; ``nogo``:
    bone.nogo.NogoStructure list (None: not assessed)."""
    kji = np.argwhere(mask)
    centre = ((kji.min(0) + kji.max(0)) // 2).tolist()
    half = 0.5 * float(np.max((kji.max(0) - kji.min(0)) * np.asarray(g.spacing[::-1]))) + params.leak_margin_mm + 10.0
    box = box_around(g, centre, half)
    m = mask[box]
    lab = labels[box]
    lid = lesion_id[box]
    sp = np.asarray(g.spacing[::-1], float)
    soft = (lab == 0) & (lid == 0)
    dist = {}

    def to(target):
        if not target.any():
            return None
        return float(ndimage.distance_transform_edt(~target, sampling=sp)[m].min())
    dist["bone_surface"] = to(soft)
    open_ids = [n for n, b in enumerate(breakthrough, start=1) if b]
    if open_ids:
        defect = soft & ndimage.binary_dilation(np.isin(lid, open_ids))
        dist["cortical_defect"] = to(defect)
    dist["sacroiliac_joint"] = to(lab == JOINT)
    env = (lab >= 1) & (lab <= 3)
    comp, n = ndimage.label(env)
    if n >= 2:
        sizes = np.bincount(comp.ravel())[1:]
        big = np.argsort(sizes)[::-1][:4] + 1
        near = [ndimage.distance_transform_edt(comp != c, sampling=sp) for c in big]
        joint = np.zeros_like(soft)
        for a in range(len(near)):
            for b in range(a + 1, len(near)):
                joint |= (near[a] + near[b] <= params.joint_gap_mm + max(g.spacing)) & (near[a] <= params.joint_gap_mm) & (near[b] <= params.joint_gap_mm)
        dist["joint_space"] = to(joint & (lab == 0))
    if nogo:
        cement_lps = g.ijk_to_lps(np.argwhere(mask)[:, ::-1].astype(float))
        for structure in nogo:
            dist[structure.name] = max(0.0, structure.clearance_mm(cement_lps, 0.0))
    reasons = [{"kind": k, "distance_mm": v} for k, v in dist.items() if v is not None and v <= params.leak_margin_mm]
    return {"at_risk": bool(reasons), "reasons": reasons, "distances_mm": dist, "margin_mm": params.leak_margin_mm,
            "not_assessed": [] if nogo else list(NOT_ASSESSED)}
