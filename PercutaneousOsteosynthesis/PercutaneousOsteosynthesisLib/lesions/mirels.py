"""Mirels' score of the fracture risk of a long-bone metastasis (Mirels 1989).

Four items scored 1-3: site (upper limb 1, lower limb 2, peritrochanteric 3), pain (mild 1, moderate 2,
functional 3), lesion type (blastic 1, mixed 2, lytic 3) and size (< 1/3 of the bone's diameter 1,
1/3-2/3 2, > 2/3 3).  Total <= 7: observe / radiotherapy; 8: clinical judgement; >= 9: prophylactic fixation.

Size used here: the lesion's ``diameter_fraction`` from :mod:`lesions` -- the lesion's width over the bone's
width along the same line, at the worst cross-section perpendicular to the bone's local long axis.
The score is defined for long bones only: pelvic lesions get ``None`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PosteoInputError

SITE = {"upper limb": 1, "lower limb": 2, "peritrochanteric": 3}
PAIN = {"mild": 1, "moderate": 2, "functional": 3}
TYPE = {"blastic": 1, "mixed": 2, "lytic": 3}


def size_score(diameter_fraction: float) -> int:
    """1 below 1/3 of the bone's diameter, 2 from 1/3 to 2/3, 3 above 2/3."""
    f = float(diameter_fraction)
    if not np.isfinite(f) or f < 0:
        raise PosteoInputError("Mirels size", f"diameter fraction must be a number >= 0, got {diameter_fraction}")
    return 1 if f < 1.0 / 3.0 else (2 if f <= 2.0 / 3.0 else 3)


def reading(total: int) -> str:
    if total <= 7:
        return "low fracture risk: observation / radiotherapy"
    if total == 8:
        return "borderline: clinical judgement"
    return "high fracture risk: prophylactic fixation recommended"


@dataclass
class MirelsResult:
    """Mirels' items, total and reading of one lesion; ``total`` None (with ``reason``) where the score does not apply
    (pelvis, pain not recorded). ``level``: the femoral level the site comes from (head/neck/trochanteric,
    subtrochanteric, shaft) when known."""

    site: str | None
    pain: str | None
    lesion_type: str
    diameter_fraction: float
    items: dict = field(default_factory=dict)
    total: int | None = None
    reason: str = ""
    bone: str = ""
    level: str = ""
    note: str = ""

    @property
    def reading(self) -> str:
        return reading(self.total) if self.total is not None else ""

    def to_dict(self) -> dict:
        """The report's ``mirels`` entry (``score`` is the total, None where not applicable)."""
        out = {"score": self.total, "total": self.total, "bone": self.bone, "site": self.site, "level": self.level}
        if self.total is None:
            out["reason"] = self.reason
            return out
        out.update({"items": dict(self.items), "pain": self.pain, "type": self.lesion_type, "diameter_fraction": float(self.diameter_fraction),
                    "reading": self.reading, "note": self.note,
                    "size_definition": "lesion width / bone width along the same line at the worst cross-section "
                                       "perpendicular to the bone's local long axis"})
        return out


def mirels_score(site: str, pain: str, lesion_type: str, diameter_fraction: float) -> MirelsResult:
    """Mirels' items, total and reading; bad item values raise PosteoInputError."""
    for what, value, table in (("site", site, SITE), ("pain", pain, PAIN), ("lesion type", lesion_type, TYPE)):
        if value not in table:
            raise PosteoInputError(f"Mirels {what}", f"must be one of {sorted(table)}, got {value!r}")
    items = {"site": SITE[site], "pain": PAIN[pain], "type": TYPE[lesion_type], "size": size_score(diameter_fraction)}
    return MirelsResult(site, pain, lesion_type, float(diameter_fraction), items, sum(items.values()))


def femur_site(point_z_lps: float, trochanteric_end_z_lps: float | None, femur_top_z_lps: float | None = None,
               fallback_band_mm: float = 80.0) -> tuple[str, str, str]:
    """(Mirels site, femoral level, note) of a femur point: peritrochanteric from the head down to the lesser
    trochanter's level (``bone.femur_levels``), subtrochanteric within 5 cm below it (scored as lower limb), shaft
    below. Without that level: a ``fallback_band_mm`` band below the femur's top, said in the note."""
    from ..bone.femur_levels import SUBTROCHANTERIC_MM

    z = float(point_z_lps)
    if trochanteric_end_z_lps is not None:
        if z >= trochanteric_end_z_lps:
            return "peritrochanteric", "head, neck or trochanteric region", ""
        if z >= trochanteric_end_z_lps - SUBTROCHANTERIC_MM:
            return "lower limb", "subtrochanteric", "subtrochanteric: below the lesser trochanter, scored as lower limb"
        return "lower limb", "shaft", ""
    if femur_top_z_lps is None:
        return "lower limb", "", "femur's levels not known: peritrochanteric site not assessed"
    if float(femur_top_z_lps) - z <= fallback_band_mm:
        return "peritrochanteric", "", f"lesser trochanter not found (scan too short): within {fallback_band_mm:g} mm of the femur's top"
    return "lower limb", "", f"lesser trochanter not found (scan too short): more than {fallback_band_mm:g} mm below the femur's top"


def site_of(component_name: str, point_lps, femur_top_z_lps: float | None = None, trochanteric_end_z_lps: float | None = None):
    """Mirels site of a point (LPS mm) in a named bone component as ``(site, note)``; ``(None, reason)`` where the
    score does not apply. Femur: see :func:`femur_site`."""
    name = (component_name or "").lower()
    if "femur" in name:
        site, _, note = femur_site(float(np.asarray(point_lps, float)[2]), trochanteric_end_z_lps, femur_top_z_lps)
        return site, note
    if any(w in name for w in ("humerus", "radius", "ulna")):
        return "upper limb", ""
    if any(w in name for w in ("tibia", "fibula")):
        return "lower limb", ""
    if any(w in name for w in ("hip bone", "sacrum", "pelvi", "ilium", "acetabul")):
        return None, f"Mirels' score is defined for long bones; the lesion lies in the {component_name} (pelvis)"
    return None, f"Mirels' score is defined for long bones; bone component '{component_name}' is not identified as one"
