"""Mirels' score of the fracture risk of a long-bone metastasis (Mirels 1989).

Four items scored 1-3: site (upper limb 1, lower limb 2, peritrochanteric 3), pain (mild 1, moderate 2,
functional 3), lesion type (blastic 1, mixed 2, lytic 3) and size (< 1/3 of the bone's diameter 1,
1/3-2/3 2, > 2/3 3).  Total <= 7: observe / radiotherapy; 8: clinical judgement; >= 9: prophylactic fixation.

Size used here: the lesion's ``diameter_fraction`` from :mod:`lesions` -- the lesion's width over the bone's
width along the same line, at the worst cross-section perpendicular to the bone's local long axis.
The score is defined for long bones only: pelvic lesions get ``None`` with the reason.
"""

from __future__ import annotations

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


def mirels_score(site: str, pain: str, lesion_type: str, diameter_fraction: float) -> dict:
    """Mirels' items, total and reading; bad item values raise PosteoInputError."""
    for what, value, table in (("site", site, SITE), ("pain", pain, PAIN), ("lesion type", lesion_type, TYPE)):
        if value not in table:
            raise PosteoInputError(f"Mirels {what}", f"must be one of {sorted(table)}, got {value!r}")
    items = {"site": SITE[site], "pain": PAIN[pain], "type": TYPE[lesion_type], "size": size_score(diameter_fraction)}
    total = sum(items.values())
    return {"items": items, "site": site, "pain": pain, "type": lesion_type, "diameter_fraction": float(diameter_fraction),
            "total": total, "reading": reading(total),
            "size_definition": "lesion width / bone width along the same line at the worst cross-section "
                               "perpendicular to the bone's local long axis"}


def site_of(component_name: str, point_lps, femur_top_z_lps: float | None = None, peritrochanteric_mm: float = 80.0):
    """Mirels site of a point (LPS mm) in a named bone component as ``(site, note)``; ``(None, reason)`` where the
    score does not apply.

    Femur: peritrochanteric if the point lies within ``peritrochanteric_mm`` below the femur's top (the femoral
    head's apex, ``femur_top_z_lps``): head, neck and trochanters; else lower limb.
    """
    name = (component_name or "").lower()
    if "femur" in name:
        if femur_top_z_lps is None:
            return "lower limb", "femur's top not known: peritrochanteric site not assessed"
        below = float(femur_top_z_lps) - float(np.asarray(point_lps, float)[2])
        return ("peritrochanteric" if below <= peritrochanteric_mm else "lower limb"), ""
    if any(w in name for w in ("humerus", "radius", "ulna")):
        return "upper limb", ""
    if any(w in name for w in ("tibia", "fibula")):
        return "lower limb", ""
    if any(w in name for w in ("hip bone", "sacrum", "pelvi", "ilium", "acetabul")):
        return None, f"Mirels' score is defined for long bones; the lesion lies in the {component_name} (pelvis)"
    return None, f"Mirels' score is defined for long bones; bone component '{component_name}' is not identified as one"
