"""Trajectory suggestions near a drawn screw: a vectorised search over entries and directions (LPS mm).

Candidates: entries on a grid of the disc of radius ``entry_radius_mm`` perpendicular to the drawn axis around
the drawn entry (the centre included), and directions on rings in the cone of half-angle ``cone_deg`` around the
drawn direction (the axis included).  Every candidate's axis is sampled every ``search_step_mm`` (2 mm: a screening
step; the finalists are re-checked at 0.5 mm) up to the longest catalog length considered (the drawn length plus
``max_extra_length_mm`` or 30 %), and all points are read from the signed distance field in one trilinear call.

Length: for each candidate and each catalog length of the drawn implant's family, diameter and thread, the
minimum clearance (entry zone excluded, :mod:`.clearance`) over that length is known; the candidate takes the
longest length whose minimum is >= ``margin_mm`` (excellent), else the longest with minimum >= 0 (acceptable);
candidates with neither are dropped.  Ranking, purchase and clearance together: excellent before acceptable, then
the higher score = length + ``CLEARANCE_WEIGHT`` x minimum clearance (clearance counted up to ``CLEARANCE_CAP_MM``:
beyond that, more bone around the screw adds no safety, more length adds purchase), then the smaller change from
the drawn line (entry shift + angle).  The best ``n_best`` are re-checked with :func:`.clearance.check_screw`
(0.5 mm step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bone.model import BoneModel
from ..errors import PosteoInputError
from ..geometry.vectors import disc_offsets, perpendicular_frame
from .clearance import ScrewCheck, check_screw, entry_zone_start, validate_screw
from .implants import default_catalog
from .screw import Screw

CLEARANCE_WEIGHT = 5.0  # mm of screw length worth one mm of clearance
CLEARANCE_CAP_MM = 4.0


@dataclass
class Suggestion:
    screw: Screw
    check: ScrewCheck
    entry_shift_mm: float
    angle_deg: float

    def to_dict(self) -> dict:
        return {"implant_id": self.screw.implant_id, "length_mm": self.screw.length_mm,
                "entry_lps": self.screw.entry_lps.tolist(), "tip_lps": self.screw.tip_lps.tolist(),
                "entry_shift_mm": self.entry_shift_mm, "angle_deg": self.angle_deg, **self.check.to_dict(profile=False)}


def _cone_directions(u: np.ndarray, cone_deg: float, n_rings: int, per_ring: int) -> np.ndarray:
    e1, e2 = perpendicular_frame(u)
    dirs = [u]
    for r in range(1, n_rings + 1):
        a = np.radians(cone_deg) * r / n_rings
        n = max(6, int(round(per_ring * r / n_rings)))
        phi = 2 * np.pi * np.arange(n) / n
        dirs.append(np.cos(a) * u + np.sin(a) * (np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2))
    return np.vstack(dirs)


def _implant_lengths(screw: Screw, catalog):
    if screw.implant_id is not None and screw.implant_id in catalog:
        imp = catalog.get(screw.implant_id)
    else:
        imp = catalog.find(screw.diameter_mm, screw.length_mm, screw.thread_length_mm)
    return imp, np.array(catalog.lengths(imp.diameter_mm, imp.thread_code, imp.family))


def candidate_min_clearance(bone: BoneModel, entries: np.ndarray, dirs: np.ndarray, radius_mm: float, s: np.ndarray,
                            entry_zone_max_mm: float = 10.0) -> np.ndarray:
    """Running minimum clearance (C, len(s)) of candidate axes ``entries[c] + s * dirs[c]`` (LPS), entry zone
    excluded (+inf there): element [c, n] is the candidate's minimum clearance for a screw of length s[n]."""
    pts = entries[:, None, :] + s[None, :, None] * dirs[:, None, :]
    clear = -bone.signed_distance_lps(pts.reshape(-1, 3)).reshape(len(entries), len(s)) - radius_mm
    start = entry_zone_start(s, clear, radius_mm, entry_zone_max_mm)
    masked = np.where(np.arange(len(s))[None, :] < start[:, None], np.inf, clear)
    return np.minimum.accumulate(masked, axis=1)


def suggest_trajectories(screw: Screw, bone: BoneModel, catalog=None, margin_mm: float = 1.0, entry_radius_mm: float = 5.0,
                         cone_deg: float = 10.0, n_best: int = 5, entry_spacing_mm: float = 1.25, n_rings: int = 6,
                         per_ring: int = 36, search_step_mm: float = 2.0, entry_zone_max_mm: float = 10.0,
                         max_extra_length_mm: float = 20.0) -> list[Suggestion]:
    """Best trajectories near ``screw`` (see module doc), best first; empty when no candidate stays in bone."""
    catalog = catalog if catalog is not None else default_catalog()
    validate_screw(screw, bone, catalog)
    for what, v in (("entry radius", entry_radius_mm), ("cone angle", cone_deg)):
        if not (np.isfinite(v) and v >= 0):
            raise PosteoInputError(f"{what} {v}", "must be a finite number >= 0")
    if cone_deg >= 90:
        raise PosteoInputError(f"cone angle {cone_deg}", "must be below 90 degrees")
    imp, lengths = _implant_lengths(screw, catalog)
    # lengths near the drawn one: at most max_extra_length_mm (or 30 %) longer, never shorter than the shortest
    longest = max(screw.length_mm + max_extra_length_mm, 1.3 * screw.length_mm)
    lengths = lengths[lengths <= max(longest, lengths.min())]
    u = screw.direction_lps
    e1, e2 = perpendicular_frame(u)
    off = disc_offsets(float(entry_radius_mm), float(entry_spacing_mm)) if entry_radius_mm > 0 else np.zeros((1, 2))
    entries = screw.entry_lps + off[:, :1] * e1 + off[:, 1:] * e2
    dirs = _cone_directions(u, float(cone_deg), n_rings, per_ring) if cone_deg > 0 else u[None]
    ce = np.repeat(entries, len(dirs), axis=0)
    cd = np.tile(dirs, (len(entries), 1))
    s = np.arange(0.0, lengths.max() + search_step_mm, search_step_mm)
    run_min = candidate_min_clearance(bone, ce, cd, imp.diameter_mm / 2, s, entry_zone_max_mm)
    li = np.minimum(np.searchsorted(s, lengths - 1e-9), len(s) - 1)
    per_len = run_min[:, li]  # (C, L): min clearance for each catalog length
    choice = []
    for threshold in (margin_mm, 0.0):
        good = per_len >= threshold
        idx = np.where(good.any(axis=1), good.shape[1] - 1 - np.argmax(good[:, ::-1], axis=1), -1)
        choice.append(idx)
    exc, acc = choice
    length_idx = np.where(exc >= 0, exc, acc)
    valid = length_idx >= 0
    if not valid.any():
        return []
    cand = np.flatnonzero(valid)
    li_c = length_idx[cand]
    cmin = per_len[cand, li_c]
    klass = (exc[cand] >= 0).astype(int)
    change = np.linalg.norm(ce[cand] - screw.entry_lps, axis=1) + np.degrees(np.arccos(np.clip(cd[cand] @ u, -1, 1)))
    score = lengths[li_c] + CLEARANCE_WEIGHT * np.minimum(cmin, CLEARANCE_CAP_MM)
    order = np.lexsort((change, -np.round(score, 1), -klass))
    out = []
    for k in order[: max(1, 4 * n_best)]:
        c = cand[k]
        length = float(lengths[li_c[k]])
        cs = Screw(screw.name, ce[c], ce[c] + length * cd[c], imp.diameter_mm,
                   catalog.snap_length(imp.diameter_mm, imp.thread_code, length, imp.family).id,
                   imp.thread_length_mm, screw.washer, dict(screw.extra), screw.role, screw.bicortical)
        chk = check_screw(cs, bone, margin_mm, entry_zone_max_mm=entry_zone_max_mm, catalog=catalog)
        if chk.grade == "breach":
            continue
        angle = float(np.degrees(np.arccos(np.clip(cd[c] @ u, -1, 1))))
        out.append(Suggestion(cs, chk, float(np.linalg.norm(ce[c] - screw.entry_lps)), angle))
        if len(out) >= n_best:
            break
    return out
