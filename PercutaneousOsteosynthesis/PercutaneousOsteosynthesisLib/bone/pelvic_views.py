"""Inlet and outlet views fitted to the patient's sacrum (degrees of tilt of the AP beam).

Definitions (Ricci et al., J Bone Joint Surg Am 2010): the inlet view profiles the anterior body of S1 — the beam,
tilted caudally, runs along the S1-S2 body; the outlet view is perpendicular to that body — the beam, tilted
cranially, sees the sacral foramina en face. Both are measured in the patient's mid-sagittal plane, from the AP beam.

The direction of the upper sacral body is taken from the sacral foramina found in the CT (``bone.nogo``): the line
from the centre of the S2 foramina to the centre of the S1 foramina (both sides averaged, left/right component
dropped) runs along the body between them. So inlet = angle of that line from the AP direction, outlet = 90° minus it.
Without S1 and S2 foramina (coarse CT, sacrum not a separate bone) the screening angles recommended by that study
are used and said so: ``SCREENING_INLET_DEG`` caudal, ``SCREENING_OUTLET_DEG`` cranial.
"""

from __future__ import annotations

import numpy as np

SCREENING_INLET_DEG = 25.0
SCREENING_OUTLET_DEG = 60.0
FITTED = "fitted to the sacrum: S1-S2 foramina"
SCREENING = "screening angles: no S1/S2 foramina found"


def _level_centre(structures, level: str) -> np.ndarray | None:
    pts = [s.points_lps.mean(axis=0) for s in structures if s.name.endswith(f"{level} foramen")]
    return np.mean(pts, axis=0) if pts else None


def screening_views() -> dict:
    """The published screening angles, in the form of :func:`fitted_inlet_outlet_deg`."""
    return {"inlet_caudal_deg": SCREENING_INLET_DEG, "outlet_cranial_deg": SCREENING_OUTLET_DEG, "source": SCREENING}


def fitted_inlet_outlet_deg(bone) -> dict:
    """``{"inlet_caudal_deg", "outlet_cranial_deg", "source"}`` for the bone model (see module doc)."""
    structures = bone.nogo_structures() if bone is not None else []
    s1, s2 = _level_centre(structures, "S1"), _level_centre(structures, "S2")
    if s1 is not None and s2 is not None:
        v = s1 - s2  # along the body, upward: posterior-to-anterior (-y) and superior (+z) components
        if v[2] > 0 and np.hypot(v[1], v[2]) > 5.0:
            # the inlet beam runs down along the body (-v); its angle from the AP beam (+y), toward caudal
            inlet = float(np.degrees(np.arctan2(v[2], -v[1])))
            if 0.0 < inlet < 90.0:
                return {"inlet_caudal_deg": inlet, "outlet_cranial_deg": 90.0 - inlet, "source": FITTED}
    return screening_views()
