"""The plan: screws, lesion seeds and cement injections on one CT, with the safety margin."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PosteoInputError
from ..screws.screw import Screw

PAIN_LEVELS = ("mild", "moderate", "functional")


@dataclass
class LesionSeed:
    """A point inside a lesion (LPS mm) from which the lesion is segmented; ``pain`` feeds the Mirels score."""

    name: str
    seed_lps: np.ndarray
    pain: str | None = None

    def __post_init__(self):
        self.name = str(self.name)
        self.seed_lps = np.asarray(self.seed_lps, float).reshape(-1)
        if self.seed_lps.shape != (3,) or not np.all(np.isfinite(self.seed_lps)):
            raise PosteoInputError(f"lesion '{self.name}'", f"seed must be 3 finite coordinates, got {self.seed_lps.tolist()}")
        if self.pain is not None and self.pain not in PAIN_LEVELS:
            raise PosteoInputError(f"lesion '{self.name}'", f"pain must be one of {PAIN_LEVELS}, got {self.pain!r}")


@dataclass
class CementInjection:
    """A cement injection: needle (or cannulated screw) tip in LPS mm and the target volume in mL."""

    name: str
    point_lps: np.ndarray
    volume_ml: float

    def __post_init__(self):
        self.name = str(self.name)
        self.point_lps = np.asarray(self.point_lps, float).reshape(-1)
        if self.point_lps.shape != (3,) or not np.all(np.isfinite(self.point_lps)):
            raise PosteoInputError(f"cement '{self.name}'", f"injection point must be 3 finite coordinates, got {self.point_lps.tolist()}")
        v = float(self.volume_ml)
        if not np.isfinite(v) or v <= 0:
            raise PosteoInputError(f"cement '{self.name}'", f"volume must be > 0 mL, got {self.volume_ml}")
        self.volume_ml = v


@dataclass
class Plan:
    """Everything planned on one CT.  All points are LPS mm."""

    name: str = "plan"
    screws: list[Screw] = field(default_factory=list)
    lesions: list[LesionSeed] = field(default_factory=list)
    cement: list[CementInjection] = field(default_factory=list)
    margin_mm: float = 1.0
    ct_source: str = ""
    # results of the last check, by screw name (grade, min_clearance_mm, ...): informative, recomputed on load
    results: dict = field(default_factory=dict)
    patient_position: str = "supine"  # on the CT table during the procedure: decides the gantry tilt axis

    def __post_init__(self):
        from ..screws.guidance import check_patient_position

        self.patient_position = check_patient_position(self.patient_position)

    def screw(self, name: str) -> Screw:
        for s in self.screws:
            if s.name == name:
                return s
        raise KeyError(name)
