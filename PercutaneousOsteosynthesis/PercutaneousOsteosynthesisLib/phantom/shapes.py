"""Solid shapes with exact signed distance functions (mm, LPS), the building blocks of the CT phantom.

Each shape's ``sdf(points)`` is the exact Euclidean signed distance to its surface (negative inside).
Unions of shapes are exact outside (the minimum); inside they bound the depth from below. A bone whose parts are
joined by fillets is a :class:`phantom.blended.BlendedBone` (its field bounds the distance near the fillets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.vectors import unit


def frame(axis1, axis2) -> np.ndarray:
    """Orthonormal 3x3 matrix whose columns are axis1, axis2 (made orthogonal to axis1) and their cross product."""
    e1 = unit(axis1)
    a2 = np.asarray(axis2, float)
    e2 = unit(a2 - e1 * (e1 @ a2))
    return np.column_stack([e1, e2, np.cross(e1, e2)])


class Shape:
    name: str = ""

    def sdf(self, p: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def sdf_within(self, p: np.ndarray, cap: float, cols=None) -> np.ndarray:
        """The signed distance at points ``p`` (N, 3) where it is below ``cap``; elsewhere a value >= ``cap`` (inf
        outside the shape's box grown by ``cap``, where the shape is not evaluated). ``cols``: p's columns, contiguous."""
        out = np.full(len(p), np.inf)
        m = in_box(p if cols is None else cols, *self.bounds(), cap)
        if m.any():
            out[m] = self.sdf(p[m])
        return out

    def surface_start(self, p: np.ndarray) -> np.ndarray:
        """Where :func:`surface_foot`'s Newton steps start from points ``p`` (N, 3): the points themselves."""
        return p

    def near_surface(self, p: np.ndarray, shell: float) -> np.ndarray:
        """True for points ``p`` (N, 3) within ``shell`` mm of the surface (|signed distance| < shell)."""
        return np.abs(self.sdf_within(p, shell)) < shell


@dataclass
class Sphere(Shape):
    center: np.ndarray
    radius: float
    name: str = ""

    def sdf(self, p):
        return np.linalg.norm(p - self.center, axis=-1) - self.radius

    def bounds(self):
        c = np.asarray(self.center, float)
        return c - self.radius, c + self.radius


@dataclass
class Capsule(Shape):
    """All points within ``radius`` of the segment a-b."""

    a: np.ndarray
    b: np.ndarray
    radius: float
    name: str = ""

    def sdf(self, p):
        a = np.asarray(self.a, float)
        ab = np.asarray(self.b, float) - a
        t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
        return np.linalg.norm(p - a - t[..., None] * ab, axis=-1) - self.radius

    def bounds(self):
        a, b = np.asarray(self.a, float), np.asarray(self.b, float)
        return np.minimum(a, b) - self.radius, np.maximum(a, b) + self.radius


@dataclass
class RoundBox(Shape):
    """A box with outer half-extents ``half`` (local axes = columns of ``rotation``) whose edges are rounded by ``rounding``."""

    center: np.ndarray
    half: np.ndarray
    rotation: np.ndarray
    rounding: float
    name: str = ""

    def sdf(self, p):
        q = np.abs((p - self.center) @ self.rotation) - (np.asarray(self.half, float) - self.rounding)
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
        inside = np.minimum(q.max(axis=-1), 0.0)
        return outside + inside - self.rounding

    def bounds(self):
        ext = np.abs(self.rotation) @ np.asarray(self.half, float)
        c = np.asarray(self.center, float)
        return c - ext, c + ext


@dataclass
class CupShell(Shape):
    """A spherical shell (radii ``inner``..``outer`` around ``center``) cut by a plane: the cup of a socket.

    ``opening`` is the unit axis pointing out of the cup; the shell is kept where the axial coordinate is below
    ``cut`` (0 = a hemisphere) and its rim is rounded.
    """

    center: np.ndarray
    inner: float
    outer: float
    opening: np.ndarray
    cut: float = 0.0
    name: str = ""

    def sdf(self, p):
        r_mid = 0.5 * (self.inner + self.outer)
        t = 0.5 * (self.outer - self.inner)
        d = p - self.center
        y = d @ unit(self.opening)
        x = np.sqrt(np.maximum((d * d).sum(-1) - y * y, 0.0))
        h = self.cut
        w = np.sqrt(r_mid * r_mid - h * h)
        beyond_rim = h * x < w * y
        to_rim = np.hypot(x - w, y - h)
        to_shell = np.abs(np.hypot(x, y) - r_mid)
        return np.where(beyond_rim, to_rim, to_shell) - t

    def bounds(self):
        c = np.asarray(self.center, float)
        return c - self.outer, c + self.outer


def surface_foot(shape: Shape, p: np.ndarray, eps: float = 1e-4, tol: float = 1e-5, steps: int = 12) -> np.ndarray:
    """Points of ``shape``'s surface (zero level) reached from points ``p`` (N, 3) along the gradient of its field
    (central differences of ``eps`` mm): Newton steps p - f grad / |grad|^2 until |f| < ``tol`` mm. For an exact
    signed distance the first step lands on the nearest surface point; a blended bone starts from its nearest
    part's surface and takes a few steps near its fillets. Points that do not converge (none seen on the phantom) are
    returned where they stopped."""
    p = np.array(shape.surface_start(np.asarray(p, float)), float)
    todo = np.arange(len(p))
    for _ in range(steps):
        q = p[todo]
        f = shape.sdf(q)
        moving = np.abs(f) >= tol
        todo, q, f = todo[moving], q[moving], f[moving]
        if len(todo) == 0:
            break
        g = np.stack([(shape.sdf(q + eps * e) - shape.sdf(q - eps * e)) / (2 * eps) for e in np.eye(3)], axis=-1)
        p[todo] = q - (f / np.maximum((g * g).sum(-1), 1e-12))[:, None] * g
    return p


def union_sdf(shapes, p: np.ndarray) -> np.ndarray:
    """Minimum of the shapes' signed distances at points ``p`` (N, 3)."""
    out = np.full(p.shape[:-1], np.inf)
    for s in shapes:
        np.minimum(out, s.sdf(p), out=out)
    return out


def union_bounds(shapes) -> tuple[np.ndarray, np.ndarray]:
    lo = np.min([s.bounds()[0] for s in shapes], axis=0)
    hi = np.max([s.bounds()[1] for s in shapes], axis=0)
    return lo, hi


def columns(p: np.ndarray) -> list:
    """The x, y and z columns of points ``p`` (N, 3), each contiguous: 1D comparisons are much cheaper than (N, 3)
    reductions."""
    return [np.ascontiguousarray(p[:, a]) for a in range(3)]


def in_box(p, lo, hi, grow: float) -> np.ndarray:
    """True for points inside the box [lo, hi] grown by ``grow`` mm; ``p``: (N, 3) or its :func:`columns`."""
    cols = columns(p) if isinstance(p, np.ndarray) else p
    m = (cols[0] >= lo[0] - grow) & (cols[0] <= hi[0] + grow)
    for a in (1, 2):
        m &= (cols[a] >= lo[a] - grow) & (cols[a] <= hi[a] + grow)
    return m


def clipped_union_sdf(shapes, p: np.ndarray, cap: float) -> np.ndarray:
    """Union signed distance at points ``p`` (N, 3), exact where below ``cap`` (each shape evaluated only near its
    box, :meth:`Shape.sdf_within`)."""
    out = np.full(len(p), np.inf)
    if len(p) == 0:
        return out
    cols = columns(p)
    p_lo = np.array([c.min() for c in cols])
    p_hi = np.array([c.max() for c in cols])
    for s in shapes:
        lo, hi = s.bounds()
        if np.any(p_hi < lo - cap) or np.any(p_lo > hi + cap):
            continue  # the shape's box misses all the points
        np.minimum(out, s.sdf_within(p, cap, cols), out=out)
    return out
