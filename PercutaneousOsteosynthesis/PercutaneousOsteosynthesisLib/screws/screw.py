"""A virtual screw: a named cylinder from entry point to tip (LPS mm)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PosteoInputError
from .roles import OTHER, parse_role


def _point(value, what: str, name: str) -> np.ndarray:
    p = np.asarray(value, dtype=float).reshape(-1)
    if p.shape != (3,):
        raise PosteoInputError(f"screw '{name}'", f"{what} must have 3 coordinates, got {p.size}")
    if not np.all(np.isfinite(p)):
        raise PosteoInputError(f"screw '{name}'", f"{what} has NaN or infinite coordinates {p.tolist()}")
    return p


@dataclass
class Screw:
    """A screw in LPS millimetres.

    ``entry_lps`` is where the screw enters the bone (its head end) and ``tip_lps`` its tip; the screw's
    length is their distance.  ``thread_length_mm`` is the threaded part at the tip (``None``: fully threaded).
    """

    name: str
    entry_lps: np.ndarray
    tip_lps: np.ndarray
    diameter_mm: float
    implant_id: str | None = None
    thread_length_mm: float | None = None
    washer: bool = False
    extra: dict = field(default_factory=dict)
    role: str = OTHER  # the pathway the screw is planned in (screws.roles)
    bicortical: bool = False  # the tip is meant to bite the far cortex (protrusion up to BICORTICAL_PROTRUSION_MM)

    def __post_init__(self):
        self.name = str(self.name)
        self.role = parse_role(self.role, f"screw '{self.name}' role")
        self.bicortical = bool(self.bicortical)
        self.entry_lps = _point(self.entry_lps, "entry point", self.name)
        self.tip_lps = _point(self.tip_lps, "tip", self.name)
        d = float(self.diameter_mm)
        if not np.isfinite(d) or d <= 0:
            raise PosteoInputError(f"screw '{self.name}'", f"diameter must be > 0 mm, got {self.diameter_mm}")
        self.diameter_mm = d
        if np.linalg.norm(self.tip_lps - self.entry_lps) < 1e-6:
            raise PosteoInputError(f"screw '{self.name}'", "entry point and tip are the same point")
        if self.thread_length_mm is not None:
            t = float(self.thread_length_mm)
            if not np.isfinite(t) or t <= 0:
                raise PosteoInputError(f"screw '{self.name}'", f"thread length must be > 0 mm, got {self.thread_length_mm}")
            self.thread_length_mm = min(t, self.length_mm)

    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(self.tip_lps - self.entry_lps))

    @property
    def direction_lps(self) -> np.ndarray:
        """Unit vector from entry to tip (LPS)."""
        v = self.tip_lps - self.entry_lps
        return v / np.linalg.norm(v)

    def axis_points_lps(self, step_mm: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Points along the axis from entry to tip, at most ``step_mm`` apart: (distances from entry (n,), points (n, 3))."""
        n = max(2, int(np.ceil(self.length_mm / step_mm)) + 1)
        s = np.linspace(0.0, self.length_mm, n)
        return s, self.entry_lps + s[:, None] * self.direction_lps

    def with_points(self, entry_lps, tip_lps) -> Screw:
        """A copy of this screw moved to new entry/tip points (LPS)."""
        return Screw(self.name, entry_lps, tip_lps, self.diameter_mm, self.implant_id, self.thread_length_mm, self.washer,
                     dict(self.extra), self.role, self.bicortical)
