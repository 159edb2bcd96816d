"""The femoral-neck triad: three parallel cannulated screws in an inverted triangle along a femoral-neck corridor
(LPS mm).

The standard fixation of a femoral-neck fracture: one screw low, along the calcar (the inferior cortex), and two above
it, one anterior and one posterior, all parallel to the neck, as widely spread as the neck allows, so that the
fragment rests on cortex below and behind.  The triangle is equilateral, apex down, in the plane across the neck
(``screws.neck_rules.neck_frame``: up and back).  Searched: its centre (a grid of ``CENTRE_STEP_MM`` within
``CENTRE_REACH_MM`` of the corridor's axis, then a quarter of that step around the best) and its spread (the distance
between screw axes, from the diameter plus ``MIN_GAP_MM`` upward in 1 mm, then ``SPREAD_STEP_MM`` steps), for the
largest catalog diameter that fits.  A triangle counts
when each of its three screws keeps ``margin_mm`` of bone all round after its entry zone, up to its tip (the same
sphere ``SUBCHONDRAL_MM`` under the head's surface as the corridor's) and enters bone within ``ENTRY_REACH_MM`` of the
corridor's entry (through the lateral cortex, not through the side of the neck); the widest spread wins, then the
largest clearance.  Each screw is then cut to the longest catalog length and checked like any planned screw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PosteoInputError
from ..screws import roles
from ..screws.clearance import GRADES, check_screw, entry_zone_start
from ..screws.neck_rules import neck_frame
from ..screws.screw import Screw
from .search import TipRule

POSITIONS = ("inferior", "anterior-superior", "posterior-superior")
MIN_GAP_MM = 2.0  # bone between two screws of the triad
MIN_DIAMETER_MM = 6.5  # femoral-neck screws are 6.5-7.3 mm: thinner ones do not hold the fragment
SPREAD_STEP_MM = 0.25  # of the fine search (the coarse one steps 1 mm)
MAX_SPREAD_MM = 40.0
CENTRE_REACH_MM = 6.0
CENTRE_STEP_MM = 2.0
OUTSIDE_MM = 25.0  # each line is sampled from this far outside the corridor's entry
ENTRY_REACH_MM = 20.0  # each screw enters bone within this distance of the corridor's entry: through the lateral cortex
SAMPLE_MM = 1.0


@dataclass
class Triad:
    side: str
    found: bool
    reason: str = ""
    screws: list = field(default_factory=list)  # Screw: inferior, anterior-superior, posterior-superior
    checks: list = field(default_factory=list)  # ScrewCheck of each
    spread_mm: float | None = None  # distance between the screws' axes

    @property
    def label(self) -> str:
        return f"{self.side} femoral neck triad"

    @property
    def min_clearance_mm(self) -> float | None:
        return min(c.min_clearance_mm for c in self.checks) if self.checks else None

    @property
    def grade(self) -> str | None:
        return max((c.grade for c in self.checks), key=GRADES.index) if self.checks else None

    def to_dict(self) -> dict:
        def pt(v):
            return [round(float(x), 2) for x in v]

        return {"side": self.side, "found": self.found, "reason": self.reason, "grade": self.grade,
                "spread_mm": None if self.spread_mm is None else round(float(self.spread_mm), 2),
                "screws": [{"name": s.name, "position": pos, "entry_lps": pt(s.entry_lps), "tip_lps": pt(s.tip_lps),
                            "diameter_mm": s.diameter_mm, "length_mm": round(float(s.length_mm), 2), "implant_id": s.implant_id,
                            "min_clearance_mm": round(float(c.min_clearance_mm), 2), "grade": c.grade}
                           for s, c, pos in zip(self.screws, self.checks, POSITIONS)]}


def triangle_offsets(spread_mm, up, back) -> np.ndarray:
    """(..., 3, 3): the offsets (LPS) of the inferior, anterior-superior and posterior-superior axes from the
    triangle's centre, for each spread (mm between axes)."""
    s = np.asarray(spread_mm, float)[..., None, None]
    unit = np.array([[-1.0 / np.sqrt(3.0), 0.0], [0.5 / np.sqrt(3.0), -0.5], [0.5 / np.sqrt(3.0), 0.5]])  # (up, back)
    return s * (unit[:, :1] * up + unit[:, 1:] * back)


def _clearances(starts, direction, tip_s, depth_fn, radius_mm: float):
    """Min clearance (mm, after each line's entry zone, up to its tip) and bone entry position (mm along the line)
    of lines ``starts + s direction``; -inf where the tip is not reached."""
    n = int(np.ceil((np.nanmax(tip_s) if np.isfinite(tip_s).any() else 0.0) / SAMPLE_MM)) + 1
    s = np.arange(n) * SAMPLE_MM
    pts = starts[:, None, :] + s[None, :, None] * direction
    clearance = depth_fn(pts.reshape(-1, 3)).reshape(len(starts), n) - radius_mm
    first = entry_zone_start(s, clearance, radius_mm)
    valid = (s[None, :] >= s[first][:, None]) & (s[None, :] <= tip_s[:, None])
    worst = np.where(valid, clearance, np.inf).min(axis=1)
    entered = clearance > -radius_mm
    bone_entry = np.where(entered.any(axis=1), s[np.argmax(entered, axis=1)], np.nan)
    ok = np.isfinite(tip_s) & np.isfinite(worst) & valid.any(axis=1) & (bone_entry <= OUTSIDE_MM + ENTRY_REACH_MM)
    return np.where(ok, worst, -np.inf), bone_entry


def _widest(entry, direction, up, back, tip_rule, depth_fn, radius_mm, margin_mm, centres_ub, spreads):
    """The widest feasible triangle among centres (k, 2: up, back offsets) and spreads: (spread, centre (2,),
    clearance, bone entries (3,)) or None."""
    centres = centres_ub[:, :1] * up + centres_ub[:, 1:] * back
    offsets = centres[:, None, None, :] + triangle_offsets(spreads, up, back)[None]  # (c, n, 3, 3)
    starts = (entry - OUTSIDE_MM * direction) + offsets.reshape(-1, 3)
    tip_s = tip_rule.tip_s(starts, np.broadcast_to(direction, starts.shape))
    worst, bone_entry = _clearances(starts, direction, tip_s, depth_fn, radius_mm)
    worst = worst.reshape(len(centres), len(spreads), 3).min(axis=2)
    feasible = worst >= margin_mm
    if not feasible.any():
        return None
    widest = int(np.flatnonzero(feasible.any(axis=0)).max())
    c = int(np.argmax(np.where(feasible[:, widest], worst[:, widest], -np.inf)))
    return spreads[widest], centres_ub[c], float(worst[c, widest]), bone_entry.reshape(len(centres), len(spreads), 3)[c, widest]


def _grid(reach: float, step: float, around=(0.0, 0.0)) -> np.ndarray:
    g = np.arange(-reach, reach + 1e-9, step)
    a, b = np.meshgrid(g + around[0], g + around[1], indexing="ij")
    return np.column_stack([a.ravel(), b.ravel()])


def _best_triangle(entry, direction, up, back, tip_rule, depth_fn, diameter_mm: float, margin_mm: float):
    """(spread, centre offset (LPS), clearance, bone entries) of the widest inverted triangle of ``diameter_mm``
    screws keeping ``margin_mm``, or None: a coarse search (``CENTRE_STEP_MM``, 1 mm of spread), then a fine one
    around its best (a quarter of each step)."""
    args = (entry, direction, up, back, tip_rule, depth_fn, diameter_mm / 2.0, margin_mm)
    smallest = diameter_mm + MIN_GAP_MM
    coarse = _widest(*args, _grid(CENTRE_REACH_MM, CENTRE_STEP_MM), np.arange(smallest, MAX_SPREAD_MM + 1e-9, 1.0))
    if coarse is None:
        return None
    spread, centre = coarse[0], coarse[1]
    fine = _widest(*args, _grid(CENTRE_STEP_MM, CENTRE_STEP_MM / 4.0, centre),
                   np.arange(max(smallest, spread - 1.0), spread + 1.0 + 1e-9, SPREAD_STEP_MM))
    best = fine if fine is not None and fine[0] >= spread else coarse
    return best[0], best[1][0] * up + best[1][1] * back, best[2], best[3]


def find_triad(side: str, entry_lps, corridor_tip_lps, head_centre_lps, head_radius_mm: float, subchondral_mm: float,
               bone, catalog, margin_mm: float, depth_fn, checked: bool = True) -> Triad:
    """The widest femoral-neck triad around the corridor from ``entry_lps`` to ``corridor_tip_lps`` (see module doc);
    ``depth_fn(points) -> mm`` inside bone (the corridors' depth). ``checked=False``: the screws are not checked
    (what would fit if ``depth_fn`` were the whole truth, e.g. without an old implant; never proposed as such)."""
    entry, tip = np.asarray(entry_lps, float), np.asarray(corridor_tip_lps, float)
    direction = (tip - entry) / np.linalg.norm(tip - entry)
    up, back = neck_frame(-direction)  # the neck axis points from the head toward the neck: reversed
    tip_rule = TipRule("sphere", tuple(np.asarray(head_centre_lps, float)), radius_mm=head_radius_mm - subchondral_mm)
    reasons = []
    for d in sorted((d for d in catalog.diameters() if d >= MIN_DIAMETER_MM), reverse=True):
        best = _best_triangle(entry, direction, up, back, tip_rule, depth_fn, d, margin_mm)
        if best is None:
            reasons.append(f"the neck does not hold three {d:g} mm screws {MIN_GAP_MM:g} mm apart with {margin_mm:g} mm "
                           "of bone all round")
            continue
        spread, centre, _, bone_entries = best
        screws, checks = [], []
        thread = catalog.default_for(d).thread_code
        for pos, offset, s_in in zip(POSITIONS, triangle_offsets(spread, up, back), bone_entries):
            start = entry - OUTSIDE_MM * direction + centre + offset
            s_tip = float(tip_rule.tip_s(start[None], direction[None])[0])
            try:
                imp = catalog.snap_length(d, thread, s_tip - s_in)
            except PosteoInputError:
                break
            a = start + s_in * direction
            screw = Screw(f"{side} femoral neck {pos}", a, a + imp.length_mm * direction, d, imp.id, imp.thread_length_mm,
                          role=roles.FEMORAL_NECK)
            screws.append(screw)
            if checked:
                checks.append(check_screw(screw, bone, margin_mm, catalog=catalog))
        if len(screws) == 3 and all(c.grade != "breach" for c in checks):
            return Triad(side, True, "", screws, checks, float(spread))
        reasons.append(f"the {d:g} mm triad found is graded breach or too short for the catalog")
    return Triad(side, False, reasons[0] if reasons else "no catalog diameter")
