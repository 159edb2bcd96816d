"""Probe's-eye slices of the CT around a screw: perpendicular to it at a distance along it, and along it.

Slices are sampled (trilinear, :class:`sampling.VolumeSampler`) on a square grid of LPS points, shown in a
bone window, with the screw's outline drawn in its grade colour and the cortex outline (the border of
``bone.labels == CORTEX``, or of HU >= the cortex threshold when no bone model is given) in cyan.

Orientation (image rows go top to bottom, columns left to right):

* perpendicular slice: the screw axis is at the image centre; the in-plane axes follow the standard CT view
  nearest to the slice: screw mostly cranio-caudal -> axial-like (image right = patient left, up = anterior);
  mostly antero-posterior -> coronal-like (right = patient left, up = superior); mostly left-right ->
  sagittal-like (right = posterior, up = superior).  Each reference axis is projected onto the slice plane.
* along slice: the plane containing the axis and the direction nearest to "superior" (to "anterior" for a
  cranio-caudal screw); the screw runs horizontally through the centre, with the end towards the screw's main
  direction's positive LPS axis on the right: patient-left end (mostly left-right screw), posterior end (mostly
  antero-posterior), superior end (mostly cranio-caudal).

Each slice is a dict: ``rgb`` (uint8 H x W x 3), ``hu`` (float H x W), ``cortex`` (bool H x W),
``right_lps``/``up_lps`` (unit LPS vectors of the image's right and up), ``centre_lps``, ``pixel_mm``.
"""

from __future__ import annotations

import numpy as np

from ..bone.labels import CORTEX
from ..errors import PosteoInputError
from ..geometry.sampling import VolumeSampler
from ..geometry.vectors import unit
from ..palette import CORTEX_OUTLINE_RGB, GRADE_RGB, UNGRADED_RGB, rgb255

SCREW_OUTLINE_RGB = {grade: rgb255(rgb) for grade, rgb in GRADE_RGB.items()}
UNGRADED_OUTLINE_RGB = rgb255(UNGRADED_RGB)
CORTEX_RGB = rgb255(CORTEX_OUTLINE_RGB)
WINDOW_HU = (-250.0, 1550.0)  # bone window: level 650, width 1800
CORTEX_THRESHOLD_HU = 600.0

X, Y, Z = np.eye(3)


def _project(v, u):
    """``v`` projected onto the plane normal to unit ``u``, normalised (None when ``v`` is parallel to ``u``)."""
    w = v - np.dot(v, u) * u
    n = np.linalg.norm(w)
    return None if n < 1e-6 else w / n


def perpendicular_axes_lps(direction_lps) -> tuple[np.ndarray, np.ndarray]:
    """(right, up) unit LPS vectors of the slice perpendicular to ``direction_lps`` (see the module doc)."""
    u = unit(np.asarray(direction_lps, float))
    dominant = int(np.argmax(np.abs(u)))
    right_ref, up_ref = {2: (X, -Y), 1: (X, Z), 0: (Y, Z)}[dominant]
    right = _project(right_ref, u)
    up = up_ref - np.dot(up_ref, u) * u - np.dot(up_ref, right) * right
    return right, unit(up)


def along_axes_lps(direction_lps) -> tuple[np.ndarray, np.ndarray]:
    """(right, up) unit LPS vectors of the slice containing the screw axis (see the module doc)."""
    u = unit(np.asarray(direction_lps, float))
    dominant = int(np.argmax(np.abs(u)))
    right = u if u[dominant] > 0 else -u  # towards patient left / posterior / superior
    up = _project(Z, u) if dominant != 2 else _project(-Y, u)
    return right, up


def _grid_points(centre, right, up, half_mm, pixel_mm):
    n = int(round(2 * half_mm / pixel_mm)) + 1
    offs = (np.arange(n) - (n - 1) / 2) * pixel_mm
    # row r goes downwards (-up), column c goes right
    pts = centre + offs[None, :, None] * right + (-offs)[:, None, None] * up
    return pts, n


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def _grey(hu):
    lo, hi = WINDOW_HU
    g = np.clip((hu - lo) / (hi - lo), 0.0, 1.0)
    return np.repeat((g * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _slice(ct, bone, centre, right, up, half_mm, pixel_mm):
    pts, n = _grid_points(centre, right, up, half_mm, pixel_mm)
    flat = pts.reshape(-1, 3)
    hu = VolumeSampler(ct.array, ct.geometry, outside_value=-1000.0)(flat).reshape(n, n)
    if bone is not None:
        kji, inside = bone.sampler().nearest_index(flat)
        lab = np.zeros(len(flat), np.uint8)
        k, j, i = kji[inside].T
        lab[inside] = bone.labels[k, j, i]
        cortex = (lab == CORTEX).reshape(n, n)
    else:
        cortex = hu >= CORTEX_THRESHOLD_HU
    rgb = _grey(hu)
    rgb[_outline(cortex)] = CORTEX_RGB
    return {"rgb": rgb, "hu": hu, "cortex": cortex, "right_lps": right, "up_lps": up, "centre_lps": np.asarray(centre, float),
            "pixel_mm": float(pixel_mm)}


def perpendicular_slice(ct, screw, s_mm: float, bone=None, grade: str | None = None, half_mm: float = 30.0,
                        pixel_mm: float = 0.25) -> dict:
    """The slice perpendicular to ``screw`` at ``s_mm`` from its entry (LPS), with the screw's circle drawn."""
    if not np.isfinite(s_mm):
        raise PosteoInputError(f"screw '{screw.name}'", f"slice distance must be finite, got {s_mm}")
    u = screw.direction_lps
    right, up = perpendicular_axes_lps(u)
    out = _slice(ct, bone, screw.entry_lps + float(s_mm) * u, right, up, half_mm, pixel_mm)
    n = out["rgb"].shape[0]
    c = (n - 1) / 2
    rr, cc = np.mgrid[0:n, 0:n]
    dist = np.hypot(rr - c, cc - c) * pixel_mm
    inside_screw = 0.0 <= s_mm <= screw.length_mm
    if inside_screw:
        ring = np.abs(dist - screw.radius_mm) <= 0.5 * pixel_mm * 1.5
        out["rgb"][ring] = SCREW_OUTLINE_RGB.get(grade, UNGRADED_OUTLINE_RGB)
    out["s_mm"] = float(s_mm)
    return out


def along_slice(ct, screw, bone=None, grade: str | None = None, half_mm: float | None = None, pixel_mm: float = 0.25) -> dict:
    """The slice containing the screw axis (centred on the screw's middle), with the screw's outline drawn."""
    u = screw.direction_lps
    right, up = along_axes_lps(u)
    half = float(half_mm) if half_mm is not None else 0.5 * screw.length_mm + 15.0
    mid = screw.entry_lps + 0.5 * screw.length_mm * u
    out = _slice(ct, bone, mid, right, up, half, pixel_mm)
    n = out["rgb"].shape[0]
    c = (n - 1) / 2
    rr, cc = np.mgrid[0:n, 0:n]
    x = (cc - c) * pixel_mm  # along `right`
    y = (c - rr) * pixel_mm  # along `up`
    sign = 1.0 if np.dot(right, u) > 0 else -1.0
    s = 0.5 * screw.length_mm + sign * x  # distance from the entry along the screw
    r = screw.radius_mm
    tol = 0.75 * pixel_mm
    sides = (np.abs(np.abs(y) - r) <= tol) & (s >= 0) & (s <= screw.length_mm)
    ends = (np.abs(y) <= r) & ((np.abs(s) <= tol) | (np.abs(s - screw.length_mm) <= tol))
    out["rgb"][sides | ends] = SCREW_OUTLINE_RGB.get(grade, UNGRADED_OUTLINE_RGB)
    out["tip_on_right"] = bool(sign > 0)
    return out


def probe_views(ct, screw, bone=None, grade: str | None = None, half_mm: float = 30.0, pixel_mm: float = 0.25) -> dict:
    """``{"entry", "middle", "tip": perpendicular slices at 2 mm, half the length, length - 2 mm; "along": ...}``."""
    length = screw.length_mm
    where = {"entry": min(2.0, 0.5 * length), "middle": 0.5 * length, "tip": max(length - 2.0, 0.5 * length)}
    out = {k: perpendicular_slice(ct, screw, s, bone, grade, half_mm, pixel_mm) for k, s in where.items()}
    out["along"] = along_slice(ct, screw, bone, grade, pixel_mm=max(pixel_mm, (length + 30.0) / 400.0))
    return out


def _letter(v) -> str:
    """Anatomical letter of the LPS direction nearest ``v`` (L/R, P/A, S/I)."""
    i = int(np.argmax(np.abs(v)))
    return ("RL", "AP", "IS")[i][int(v[i] > 0)]


def probe_figure_png(views: dict, title: str = "", dpi: int = 80) -> bytes:
    """One PNG with the slices of :func:`probe_views` side by side, titled, with orientation letters and a 10 mm bar."""
    import io

    from matplotlib.figure import (
        Figure,  # a bare Figure renders PNG with Agg; the global backend (Slicer's) is untouched
    )

    keys = [k for k in ("entry", "middle", "tip", "along") if k in views]
    fig = Figure(figsize=(3.2 * len(keys), 3.6), dpi=dpi)
    for n, k in enumerate(keys):
        v = views[k]
        ax = fig.add_subplot(1, len(keys), n + 1)
        h, w = v["rgb"].shape[:2]
        ax.imshow(v["rgb"], interpolation="nearest")
        label = k if k == "along" else f"{k} (s = {v['s_mm']:.1f} mm)"
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(w - 3, h / 2, _letter(v["right_lps"]), color="yellow", ha="right", va="center", fontsize=10, weight="bold")
        ax.text(3, h / 2, _letter(-v["right_lps"]), color="yellow", ha="left", va="center", fontsize=10, weight="bold")
        ax.text(w / 2, 3, _letter(v["up_lps"]), color="yellow", ha="center", va="top", fontsize=10, weight="bold")
        bar = 10.0 / v["pixel_mm"]
        ax.plot([5, 5 + bar], [h - 6, h - 6], color="white", lw=2)
        ax.text(5 + bar / 2, h - 9, "10 mm", color="white", ha="center", va="bottom", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
