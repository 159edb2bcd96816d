"""The named osseous fixation pathways (Bishop & Routt) and where each one's search starts, from the landmarks.

Each pathway is a :class:`Pathway` (name, screw role, one per side or one for the pelvis, whether its screw is meant
to bite the far cortex, the size of its search) and a rule turning the landmarks into a search region
(corridors.search.SearchRegion: a centre inside the expected corridor, a nominal direction from entry to tip, and
the tip rule):

- S1 / S2 iliosacral: from the side's ilium to the sacral midline; centred on the midline above the S1 foramina
  (S1: by half the S1-S2 spacing) or between the S1 and S2 foramina (S2), or where the landmarks put them from the
  sacroiliac joints when no foramina are found; nominal direction medial;
- S1 / S2 transsacral: the same levels, from the left ilium through the sacrum to the right ilium (bicortical);
- supra-acetabular (LC-II): from the anterior inferior iliac spine toward the posterior superior iliac spine, above
  the acetabulum and the greater sciatic notch;
- anterior column (retrograde): along the superior pubic ramus, from the pubis laterally toward the ilium;
- posterior column (retrograde): from the ischial tuberosity up, behind the acetabulum (nominally toward the point
  ``POSTERIOR_COLUMN_TARGET`` head radii behind and above the acetabulum's centre);
- femoral neck: from the lateral cortex along the anatomical neck axis to ``SUBCHONDRAL_MM`` short of the head's
  surface; its width is that of the neck (measured over ``NECK_MEASURE_MM`` lateral to the head's centre: the
  trochanteric region is entered obliquely and is wide in the patient).

The width of a through-going pathway (LC-II, anterior and posterior column) is measured over its shortest useful
screw from the entry (``Pathway.min_screw_mm``; LC-II: ``SUPRA_ACETABULAR_MIN_SPAN`` of the AIIS-PSIS distance): the
screw proposed in it is as long as the margin allows (corridors.find).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..screws import roles
from .landmarks import PelvisLandmarks, sign_of
from .search import SearchRegion, TipRule

FAR_CORTEX_BITE_MM = 2.0  # a bicortical tip stops this far before the exit of the far cortex
SUBCHONDRAL_MM = 8.0
RUN_TO_EXIT = TipRule()
NECK_MEASURE_MM = 35.0  # the femoral neck's width is measured over this length lateral to the head's centre
NECK_START_MM = 10.0  # the femoral-neck search is centred this far beyond the head's surface along the neck axis
SUPRA_ACETABULAR_AT = 0.35  # the LC-II search is centred this fraction of the way from the AIIS to the PSIS
POSTERIOR_COLUMN_TARGET = (1.4, 0.5)  # (behind, above) the acetabulum's centre, in head radii
POSTERIOR_COLUMN_START_MM = 30.0  # the posterior-column search is centred this far up from the tuberosity
SI_JOINT_DEFAULT_MM = 45.0  # lateral reach of a sacroiliac joint from the midline when the joint is not found
BEYOND_SI_JOINT_MM = 8.0  # a sacral screw's bone run reaches at least this far lateral to the joint's centre


@dataclass(frozen=True)
class Pathway:
    name: str
    role: str
    sided: bool
    bicortical: bool
    half_width_mm: float
    cone_deg: float
    back_mm: float
    ahead_mm: float
    min_screw_mm: float = 0.0  # through-going pathways: the width is measured over this length from the entry


PATHWAYS = (
    Pathway("S1 iliosacral", roles.ILIOSACRAL, True, False, 14.0, 15.0, 110.0, 5.0),
    Pathway("S2 iliosacral", roles.ILIOSACRAL, True, False, 14.0, 15.0, 110.0, 5.0),
    Pathway("S1 transsacral", roles.TRANSSACRAL, False, True, 14.0, 10.0, 120.0, 120.0),
    Pathway("S2 transsacral", roles.TRANSSACRAL, False, True, 14.0, 10.0, 120.0, 120.0),
    Pathway("supra-acetabular", roles.SUPRA_ACETABULAR, True, False, 12.0, 12.0, 60.0, 150.0),
    Pathway("anterior column", roles.ANTERIOR_COLUMN, True, False, 8.0, 12.0, 90.0, 110.0, 60.0),
    Pathway("posterior column", roles.POSTERIOR_COLUMN, True, False, 8.0, 12.0, 70.0, 110.0, 60.0),
    Pathway("femoral neck", roles.FEMORAL_NECK, True, False, 10.0, 12.0, 110.0, 60.0),
)
SUPRA_ACETABULAR_MIN_SPAN = 0.7  # the shortest LC-II screw: this fraction of the AIIS-PSIS distance
BY_NAME = {p.name: p for p in PATHWAYS}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _sacral_centre(lm: PelvisLandmarks, level: str) -> np.ndarray | None:
    if level in lm.sacral_centres:  # from the sacroiliac joints (no foramina found)
        return lm.sacral_centres[level]
    if not {"S1", "S2"} <= set(lm.sacral_levels):
        return None
    s1, s2 = lm.sacral_levels["S1"], lm.sacral_levels["S2"]
    return s1 + 0.5 * (s1 - s2) if level == "S1" else 0.5 * (s1 + s2)


def search_region(pathway: Pathway, lm: PelvisLandmarks, side: str | None) -> tuple[SearchRegion | None, str]:
    """(region, "") or (None, why it cannot be searched) for ``pathway`` on ``side`` (None: a midline pathway)."""
    p = pathway

    def region(centre, direction, tip=RUN_TO_EXIT, min_back=0.0, min_ahead=0.0):
        return SearchRegion(tuple(np.asarray(centre, float)), tuple(_unit(direction)), p.half_width_mm, p.cone_deg,
                            p.back_mm, p.ahead_mm, tip, min_back, min_ahead), ""

    def lateral_reach(s):
        sl = lm.sides.get(s)
        joint = SI_JOINT_DEFAULT_MM if sl is None or sl.si_joint_lps is None else abs(sl.si_joint_lps[0] - lm.midline_x)
        return joint + BEYOND_SI_JOINT_MM

    if p.role in (roles.ILIOSACRAL, roles.TRANSSACRAL):
        level = p.name.split()[0]
        centre = _sacral_centre(lm, level)
        if centre is None:
            if level in lm.sacral_level_reasons:  # the other level was found from the sacroiliac joints
                return None, f"no {level} corridor centre: {lm.sacral_level_reasons[level]}"
            return None, lm.sacral_reason
        if p.role == roles.TRANSSACRAL:  # from the left ilium (+x) to the right
            return region(centre, (-1.0, 0.0, 0.0), TipRule("run", back_off_mm=FAR_CORTEX_BITE_MM),
                          lateral_reach("left"), lateral_reach("right"))
        s = sign_of(side)
        return region(centre, (-s, 0.0, 0.0), TipRule("plane", tuple(centre), (1.0, 0.0, 0.0)), lateral_reach(side))
    sl = lm.sides.get(side)
    if sl is None or sl.head_centre_lps is None:
        return None, f"no {side} femoral head recognised (the acetabulum is unknown)"
    if p.role == roles.FEMORAL_NECK:
        if sl.neck_axis_lps is None:
            return None, f"no {side} femoral neck axis found"
        c, r, n = sl.head_centre_lps, sl.head_radius_mm, sl.neck_axis_lps
        return region(c + (r + NECK_START_MM) * n, -n, TipRule("sphere", tuple(c), radius_mm=r - SUBCHONDRAL_MM,
                                                                   measure_back_mm=NECK_MEASURE_MM))
    run = TipRule("run", measure_length_mm=p.min_screw_mm)
    if p.role == roles.SUPRA_ACETABULAR:
        if sl.aiis_lps is None or sl.psis_lps is None:
            return None, f"no {side} iliac spines found (hip bone not a separate bone)"
        a, b = sl.aiis_lps, sl.psis_lps
        shortest = SUPRA_ACETABULAR_MIN_SPAN * float(np.linalg.norm(b - a))
        return region(a + SUPRA_ACETABULAR_AT * (b - a), b - a, TipRule("run", measure_length_mm=shortest))
    if p.role == roles.ANTERIOR_COLUMN:
        if sl.ramus is None:
            return None, f"no {side} superior pubic ramus found"
        return region(sl.ramus[0], sl.ramus[1], run)
    if sl.tuberosity_lps is None:
        return None, f"no {side} ischial tuberosity found"
    behind, above = POSTERIOR_COLUMN_TARGET
    target = sl.head_centre_lps + sl.head_radius_mm * np.array([0.0, behind, above])
    u = _unit(target - sl.tuberosity_lps)
    return region(sl.tuberosity_lps + POSTERIOR_COLUMN_START_MM * u, u, run)
