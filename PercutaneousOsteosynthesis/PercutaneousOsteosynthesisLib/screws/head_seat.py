"""Where the screw head seats: its diameter (from the implant catalog) and the near cortex under it.

A screw head (or washer) bears on the near cortex at the entry. On the thin cortex of osteoporotic bone (the iliac
outer table, the lateral femoral cortex of elderly patients) a head can pull through; a washer spreads the load.
The near cortex is measured on the CT along the screw axis, from ``SEARCH_BEFORE_MM`` before the entry to
``SEARCH_AFTER_MM`` after it (trilinear samples every 0.1 mm; see :func:`near_cortex_mm`). Below
``WASHER_ADVISED_BELOW_MM`` a washer is advised (unless planned).
"""

from __future__ import annotations

import numpy as np

from ..geometry.sampling import VolumeSampler
from .model import head_diameter_mm
from .screw import Screw

WASHER_ADVISED_BELOW_MM = 1.5
SEARCH_BEFORE_MM = 40.0
SEARCH_AFTER_MM = 10.0
STEP_MM = 0.1
CORTICAL_BONE_HU = 1000.0  # the least HU of a plate of cortical bone seen at full thickness


def near_cortex_mm(screw: Screw, ct, bone_threshold_hu: float) -> float | None:
    """Thickness (mm) of the near cortex: the first bony plate met along the axis from the soft tissue last crossed
    before the entry (0 when none is met within ``SEARCH_AFTER_MM`` after the entry; None when the axis is in bone
    all the way from ``SEARCH_BEFORE_MM`` before the entry, where the head cannot be judged).

    A plate thinner than a voxel never reaches the cortex threshold on a CT, so the thickness is its "mass": the HU
    above the bone behind it, integrated across the plate (samples at or above ``bone_threshold_hu``, one voxel of
    partial volume either side), over the contrast of cortical bone (the plate's peak, at least
    ``CORTICAL_BONE_HU``) against that bone (median HU of the next 5 mm, fatty marrow to dense cancellous)."""
    s = np.arange(-SEARCH_BEFORE_MM, SEARCH_AFTER_MM + 6.0 + STEP_MM / 2, STEP_MM)
    hu = VolumeSampler(ct.array, ct.geometry, outside_value=-1000.0)(screw.entry_lps + s[:, None] * screw.direction_lps)
    window = s <= SEARCH_AFTER_MM
    bony = (hu >= bone_threshold_hu) & window
    entry = int(np.searchsorted(s, 0.0))
    soft = np.flatnonzero(~bony[: entry + 1])
    if len(soft) == 0:
        return None
    bony[: soft[-1]] = False  # the plate the head bears on is the one after the soft tissue last crossed
    if not bony.any():
        return 0.0
    first = int(np.argmax(bony))
    last = first + (int(np.argmax(~bony[first:])) if (~bony[first:]).any() else len(bony) - first) - 1
    pad = int(round(max(ct.geometry.spacing) / STEP_MM))
    lo, hi = max(0, first - pad), min(len(s), last + pad + 1)
    behind = hu[last + pad + 1: last + pad + 1 + int(round(5.0 / STEP_MM))]
    baseline = float(np.clip(np.median(behind), -100.0, 400.0)) if len(behind) else 0.0
    peak = float(hu[first:last + 1].max())
    contrast = max(peak, CORTICAL_BONE_HU) - baseline
    return float(np.clip(hu[lo:hi] - baseline, 0.0, None).sum() * STEP_MM / contrast)


def head_seat(screw: Screw, ct, bone_threshold_hu: float, catalog=None) -> dict:
    """The ``head_seat`` entry of the report: head diameter, near cortex, washer planned / advised."""
    cortex = near_cortex_mm(screw, ct, bone_threshold_hu)
    if cortex is None:
        return {"head_diameter_mm": round(head_diameter_mm(screw, catalog), 2), "near_cortex_mm": None, "washer": bool(screw.washer),
                "washer_advised": False, "note": f"the entry lies more than {SEARCH_BEFORE_MM:g} mm deep in bone: head seat not assessed"}
    advised = cortex < WASHER_ADVISED_BELOW_MM and not screw.washer
    note = ""
    if advised:
        note = (f"near cortex under the head {cortex:.1f} mm (< {WASHER_ADVISED_BELOW_MM:g} mm): washer advised" if cortex > 0
                else f"no cortex within {SEARCH_AFTER_MM:g} mm of the entry: the head bears on nothing dense; washer advised")
    return {"head_diameter_mm": round(head_diameter_mm(screw, catalog), 2), "near_cortex_mm": round(cortex, 2),
            "washer": bool(screw.washer), "washer_advised": bool(advised), "note": note}
