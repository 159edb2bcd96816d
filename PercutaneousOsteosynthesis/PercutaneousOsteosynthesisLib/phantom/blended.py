"""A bone made of several exact-SDF parts joined by fillets (LPS mm): a smooth union of the parts' signed distances.

Real bone has no sharp concave crease where two of its parts meet, and no thin crevice between two parts that nearly
touch: its junctions are filleted. The parts' fields are joined by the polynomial smooth minimum of blend radius k
(``smooth_min``): it equals the plain minimum where two fields differ by k or more, so material is added only where two
parts come within k of each other: a fillet in every concave corner (it leaves each face k from the corner and
passes k / (2 sqrt 2) from a right-angled one), and a crevice narrower than k / 2 filled.
The field is 1-Lipschitz and zero on the surface, so it bounds the distance to the surface from below everywhere and
is exact where no blend acts (``exact_depth`` samples the surface itself for the exact depth). ``cavities``: shapes
removed after blending (an articular cavity that a fillet must not enter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .shapes import Shape, clipped_union_sdf, columns, in_box, surface_foot, union_bounds, union_sdf

FAR_MM = 1e9  # the field of a part not evaluated (farther than the requested cap): finite, so no inf - inf


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of blend radius ``k``: min(a, b) - h^2 k / 4 with h = max(k - |a - b|, 0) / k. It
    is C1, lies between min(a, b) - k/4 and min(a, b), and equals min(a, b) where |a - b| >= k."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * (0.25 * k)


@dataclass
class BlendedBone(Shape):
    """The smooth union of ``members`` (folded in their order: C1, each fold step lowers the field by at most k/4,
    all together by at most k) with fillets of radius about ``blend_mm``, minus ``cavities``."""

    members: list
    blend_mm: float
    name: str = ""
    cavities: list = field(default_factory=list)

    def sdf(self, p):
        return self.sdf_within(np.asarray(p, float).reshape(-1, 3), np.inf).reshape(np.shape(p)[:-1])

    def sdf_within(self, p, cap, cols=None):
        """The field at ``p`` (N, 3) where it is below ``cap`` (elsewhere a value >= ``cap``). The parts' plain minimum
        first (each part evaluated within ``cap + k`` of its box): where it is ``cap + k`` or more the field (at most k
        below it) is not needed. Elsewhere each part is evaluated within ``cap + 4 k`` of its box: a part farther than
        that changes no fold step whose result stays below ``cap`` (a step is changed only when its running value is
        within k of the part's, a skipped part's changes leave the running value above cap + 2 k, and the first part
        below cap + k resets it)."""
        k = self.blend_mm
        if not np.isfinite(cap):
            return self._field(self._parts(p, cap, cols), p, cap)
        out = clipped_union_sdf(self.members, p, cap + k)
        idx = np.flatnonzero(out < cap + k)
        if len(idx):
            out[idx] = self._field(self._parts(p[idx], cap + 4.0 * k), p[idx], cap)
        out[out >= FAR_MM - 2.0 * k] = np.inf
        return out

    def _parts(self, p, reach, cols=None):
        """The parts' fields at ``p`` (parts x N), each evaluated within ``reach`` of its box (``FAR_MM`` elsewhere)."""
        cols = cols if cols is not None else columns(p)
        v = np.full((len(self.members), len(p)), FAR_MM)
        for i, m in enumerate(self.members):
            sel = in_box(cols, *m.bounds(), reach)
            if sel.any():
                v[i, sel] = m.sdf(p[sel])
        return v

    def _field(self, v, p, cap):
        k = self.blend_mm
        two = np.partition(v, 1, axis=0)[:2] if len(v) > 1 else np.vstack([v, v + 2.0 * k])
        out = two[0].copy()
        # the fold is the plain minimum unless a second part is within 2 k of the nearest one
        near = np.flatnonzero(two[1] - two[0] < 2.0 * k)
        if len(near):
            acc = v[0, near]
            for row in v[1:]:
                acc = smooth_min(acc, row[near], k)
            out[near] = acc
        if self.cavities:
            below = np.flatnonzero(out < cap)
            out[below] = np.maximum(out[below], -union_sdf(self.cavities, p[below]))
        out[out >= FAR_MM - 2.0 * k] = np.inf
        return out

    def near_surface(self, p, shell):
        """True for points ``p`` (N, 3) where |field| < ``shell``: the field is taken only where the parts' plain
        minimum allows it (the field lies between it minus k and it) or near a cavity's surface."""
        k = self.blend_mm
        plain = clipped_union_sdf(self.members, p, shell + k)
        maybe = (plain > -shell) & (plain < shell + k)
        if self.cavities:
            maybe |= np.abs(clipped_union_sdf(self.cavities, p, shell)) < shell
        out = np.zeros(len(p), bool)
        idx = np.flatnonzero(maybe)
        out[idx] = np.abs(self.sdf_within(p[idx], shell)) < shell
        return out

    def surface_start(self, p):
        """Each point projected onto the surface of its nearest part (exact fields: one step each): already on this
        bone's surface wherever no fillet or cavity acts there, a near start for the Newton steps elsewhere."""
        _, part = self.parts_min(p)
        out = np.array(p, float)
        for j, m in enumerate(self.members):
            sel = part == j
            if sel.any():
                out[sel] = surface_foot(m, p[sel])
        return out

    def bounds(self):
        lo, hi = union_bounds(self.members)
        return lo - self.blend_mm, hi + self.blend_mm  # the fold adds material only within k of a part

    def member(self, name: str):
        return next((m for m in self.members if m.name == name), None)

    def parts_min(self, p):
        """(minimum of the parts' fields, index of the nearest part) at points ``p`` (N, 3): the field where no
        blend acts."""
        v = self._parts(p, np.inf)
        return v.min(axis=0), v.argmin(axis=0)
