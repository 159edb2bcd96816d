"""Small vector helpers shared by the whole Lib (frame-free: they keep whatever frame their input is in)."""

from __future__ import annotations

import numpy as np

from ..errors import PosteoInputError


def unit(v, what: str = "direction") -> np.ndarray:
    """``v`` (a 3-vector) scaled to length 1; a zero, non-finite or non-3D ``v`` raises PosteoInputError naming ``what``."""
    a = np.asarray(v, float).reshape(-1)
    n = float(np.linalg.norm(a)) if a.shape == (3,) else 0.0
    if not np.isfinite(n) or n < 1e-12:
        raise PosteoInputError(what, f"must be a non-zero finite 3D vector, got {a.tolist()}")
    return a / n


def perpendicular_frame(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors e1, e2 perpendicular to the unit vector ``u``, with e1 x e2 = u."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, u)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(u, e1)


def disc_offsets(radius: float, spacing: float) -> np.ndarray:
    """(n, 2) points of a square grid of ``spacing`` inside the disc of ``radius`` around 0 (the centre included)."""
    g = np.arange(-radius, radius + 1e-9, spacing)
    x, y = np.meshgrid(g, g, indexing="ij")
    keep = x ** 2 + y ** 2 <= radius ** 2 + 1e-9
    return np.column_stack([x[keep], y[keep]])


def sphere_directions(n: int) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0 ** 0.5) * i
    r = np.sqrt(1.0 - z * z)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])
