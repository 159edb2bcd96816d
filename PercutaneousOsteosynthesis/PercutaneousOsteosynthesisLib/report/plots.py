"""Clearance profile plot of a screw (matplotlib, Agg, no display): clearance (mm) along the screw from entry to
tip, the safety margin, and the breach stretches (clearance < 0) shaded red."""

from __future__ import annotations

import io

import numpy as np

from ..errors import PosteoInputError
from ..palette import BREACH_SPAN_RGB

BREACH_ALPHA = 0.35
MARGIN_RGB = (0.95, 0.55, 0.0)
LINE_RGB = (0.1, 0.3, 0.8)


def breach_intervals(s_mm, clearance_mm) -> list[tuple[float, float]]:
    """[start, end] distances (mm) of the stretches where the clearance is < 0, ends interpolated linearly."""
    s = np.asarray(s_mm, float)
    c = np.asarray(clearance_mm, float)
    neg = c < 0
    out = []
    i = 0
    while i < len(s):
        if not neg[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(s) and neg[j + 1]:
            j += 1
        a = s[i] if i == 0 else s[i - 1] + (s[i] - s[i - 1]) * c[i - 1] / (c[i - 1] - c[i])
        b = s[j] if j == len(s) - 1 else s[j] + (s[j + 1] - s[j]) * c[j] / (c[j] - c[j + 1])
        out.append((float(a), float(b)))
        i = j + 1
    return out


def clearance_plot_png(s_mm, clearance_mm, margin_mm: float, title: str = "", size_px=(640, 260), dpi: int = 80) -> bytes:
    """PNG bytes of the clearance profile; the x axis spans exactly [0, screw length] (entry to tip)."""
    from matplotlib.figure import (
        Figure,  # a bare Figure renders PNG with Agg; the global backend (Slicer's) is untouched
    )

    s = np.asarray(s_mm, float).ravel()
    c = np.asarray(clearance_mm, float).ravel()
    if s.size < 2 or s.size != c.size or not (np.all(np.isfinite(s)) and np.all(np.isfinite(c))):
        raise PosteoInputError(f"clearance profile {title!r}", f"needs >= 2 finite (s, clearance) pairs, got {s.size} s and {c.size} clearances")
    if np.any(np.diff(s) <= 0):
        raise PosteoInputError(f"clearance profile {title!r}", "distances along the screw must increase")
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    for a, b in breach_intervals(s, c):
        ax.axvspan(a, b, color=BREACH_SPAN_RGB, alpha=BREACH_ALPHA, lw=0, label=None)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axhline(float(margin_mm), color=MARGIN_RGB, lw=1.2, ls="--", label=f"margin {margin_mm:g} mm")
    ax.plot(s, c, color=LINE_RGB, lw=1.6, label="clearance")
    ax.set_xlim(float(s[0]), float(s[-1]))
    lo, hi = min(float(c.min()), 0.0), max(float(c.max()), float(margin_mm))
    pad = 0.08 * (hi - lo) + 0.5
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("distance from entry (mm) — entry left, tip right")
    ax.set_ylabel("clearance (mm)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
