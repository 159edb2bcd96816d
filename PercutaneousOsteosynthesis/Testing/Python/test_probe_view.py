"""Probe's-eye slices: on the phantom's femoral neck the perpendicular slice shows the neck's cortex ring centred
on the screw at the analytic radius; the screw circle has the screw's radius; orientation conventions."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.report.probe_view import (
    SCREW_OUTLINE_RGB,
    along_axes_lps,
    along_slice,
    perpendicular_axes_lps,
    perpendicular_slice,
    probe_figure_png,
    probe_views,
)
from PercutaneousOsteosynthesisLib.screws.screw import Screw


@pytest.fixture(scope="module")
def neck_screw(phantom):
    p = next(p for p in phantom[1]["screw_paths"] if "femoral neck" in p["name"])
    return Screw(p["name"], p["entry_lps"], p["tip_lps"], p["diameter_mm"])


def test_neck_cross_section_ring_centred_on_screw(phantom, phantom_bone, anatomy, neck_screw):
    ct = phantom[0]
    px = 0.25
    s_mid = 0.5 * neck_screw.length_mm
    v = perpendicular_slice(ct, neck_screw, s_mid, phantom_bone, "excellent", half_mm=30.0, pixel_mm=px)
    n = v["rgb"].shape[0]
    c = (n - 1) / 2
    centre = neck_screw.entry_lps + s_mid * neck_screw.direction_lps
    assert np.allclose(v["centre_lps"], centre)
    # along 24 rays from the centre: the outermost cortex pixel lies at the analytic bone surface (envelope sdf = 0)
    for a in np.linspace(0, 2 * np.pi, 24, endpoint=False):
        d = np.cos(a) * v["right_lps"] + np.sin(a) * v["up_lps"]
        r = np.arange(0.0, 29.0, 0.05)
        sdf = anatomy.envelope_sdf(centre + r[:, None] * d)
        r_surface = r[np.argmax(sdf > 0)]
        # pixels on the ray (column right, row up)
        rr = np.arange(0.0, 29.0, px / 2)
        cols = np.rint(c + rr * np.cos(a) / px).astype(int)
        rows = np.rint(c - rr * np.sin(a) / px).astype(int)
        on = v["cortex"][rows, cols]
        assert on.any()
        first = rr[np.argmax(on)]
        last_run = rr[np.nonzero(on)[0]]
        last = last_run[last_run < r_surface + 3].max()
        assert abs(last - r_surface) < 1.5, (a, last, r_surface)  # outer edge of the cortex
        assert first > neck_screw.radius_mm + 3  # the cortex surrounds the screw, not at it
    # the screw circle: its pixels' distance from the centre = radius / pixel size
    col = np.array(SCREW_OUTLINE_RGB["excellent"])
    ys, xs = np.nonzero(np.all(v["rgb"] == col, axis=2))
    dist = np.hypot(ys - c, xs - c)
    assert len(dist) > 50
    assert abs(dist.mean() - neck_screw.radius_mm / px) < 1.0
    assert abs(np.mean(xs) - c) < 0.5 and abs(np.mean(ys) - c) < 0.5


def test_perpendicular_orientation_conventions():
    for u, right, up in [((0, 0, 1), (1, 0, 0), (0, -1, 0)),  # axial-like: left on the right, anterior up
                         ((0, 1, 0), (1, 0, 0), (0, 0, 1)),  # coronal-like
                         ((-1, 0, 0), (0, 1, 0), (0, 0, 1))]:  # sagittal-like: posterior on the right
        r, t = perpendicular_axes_lps(np.array(u, float))
        assert np.allclose(r, right) and np.allclose(t, up)
    u = np.array([0.8, 0.15, -0.58])
    u /= np.linalg.norm(u)
    r, t = perpendicular_axes_lps(u)
    assert abs(r @ u) < 1e-9 and abs(t @ u) < 1e-9 and abs(r @ t) < 1e-9
    r, t = along_axes_lps(-u)
    assert np.allclose(r, u) and r[0] > 0 and t[2] > 0 and abs(t @ u) < 1e-9


def test_along_slice_draws_the_screw_from_entry_to_tip(phantom, phantom_bone, neck_screw):
    px = 0.25
    v = along_slice(phantom[0], neck_screw, phantom_bone, "breach", half_mm=45.0, pixel_mm=px)
    n = v["rgb"].shape[0]
    c = (n - 1) / 2
    ys, xs = np.nonzero(np.all(v["rgb"] == np.array(SCREW_OUTLINE_RGB["breach"]), axis=2))
    assert abs((xs.max() - xs.min()) * px - neck_screw.length_mm) < 1.0
    assert abs((ys.max() - ys.min()) * px - neck_screw.diameter_mm) < 1.0
    assert abs(0.5 * (xs.max() + xs.min()) - c) < 1.5
    # the neck screw runs from lateral (left side, +x) to medial: its tip is on the image's left
    assert v["tip_on_right"] is False


def test_probe_views_and_figure(phantom, phantom_bone, neck_screw):
    views = probe_views(phantom[0], neck_screw, phantom_bone, "excellent")
    assert set(views) == {"entry", "middle", "tip", "along"}
    assert views["entry"]["s_mm"] == pytest.approx(2.0) and views["tip"]["s_mm"] == pytest.approx(neck_screw.length_mm - 2.0)
    for v in views.values():
        assert v["rgb"].std() > 10 and v["cortex"].any()
    png = probe_figure_png(views, neck_screw.name)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
