"""Segment distances, screw gaps and metal clearance against analytic cases and brute force."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.screws.pairs import (
    metal_clearance,
    metal_points_from_mask,
    pairwise_gaps,
    screw_gap_mm,
    segment_distance_lps,
)
from PercutaneousOsteosynthesisLib.screws.screw import Screw


@pytest.mark.parametrize("a0, a1, b0, b1, expected", [
    ((0, 0, 0), (0, 0, 10), (5, 0, 2), (5, 0, 20), 5.0),                 # parallel, overlapping
    ((0, 0, 0), (0, 0, 10), (3, 0, 14), (3, 0, 20), 5.0),                # parallel, offset past the end: 3-4-5
    ((0, 0, 0), (0, 0, 10), (3, 0, 20), (3, 0, 14), 5.0),                # same, reversed
    ((-5, 0, 0), (5, 0, 0), (0, -5, 3), (0, 5, 3), 3.0),                 # skew, interior closest points
    ((-5, 0, 0), (5, 0, 0), (0, -5, 0), (0, 5, 0), 0.0),                 # crossing
    ((0, 0, 0), (0, 0, 10), (0, 0, 13), (0, 0, 20), 3.0),                # collinear end to end
    ((0, 0, 0), (1, 0, 0), (5, -1, 2), (5, 1, 2), math.sqrt(20.0)),      # skew, closest at an end
    ((1, 2, 3), (1, 2, 3), (4, 6, 3), (4, 6, 3), 5.0),                   # two points
    ((0, 0, 0), (0, 0, 0), (-3, 4, 0), (3, 4, 0), 4.0),                  # point and segment
])
def test_analytic_segments(a0, a1, b0, b1, expected):
    d, pa, pb = segment_distance_lps(a0, a1, b0, b1)
    assert d == pytest.approx(expected, abs=1e-9)
    assert np.linalg.norm(pa - pb) == pytest.approx(expected, abs=1e-9)


def test_closest_points_skew():
    _, pa, pb = segment_distance_lps((-5, 0, 0), (5, 0, 0), (0, -5, 3), (0, 5, 3))
    np.testing.assert_allclose(pa, [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pb, [0, 0, 3], atol=1e-12)


def _brute(a0, a1, b0, b1, n=301):
    t = np.linspace(0, 1, n)[:, None]
    pa = a0 + t * (a1 - a0)
    pb = b0 + t * (b1 - b0)
    d, _ = cKDTree(pb).query(pa)
    return d.min(), np.linalg.norm(a1 - a0) / (n - 1), np.linalg.norm(b1 - b0) / (n - 1)


coord = st.floats(-20, 20, allow_nan=False)
vec = st.tuples(coord, coord, coord).map(np.array)


@settings(max_examples=80, deadline=None)
@given(vec, vec, vec, vec, st.booleans(), st.floats(-1e-7, 1e-7))
def test_against_brute_force(a0, a1, b0, b1, parallel, eps):
    if parallel:  # b parallel (or nearly) to a
        b1 = b0 + 0.7 * (a1 - a0) + eps
    d, pa, pb = segment_distance_lps(a0, a1, b0, b1)
    brute, ha, hb = _brute(a0, a1, b0, b1)
    assert d <= brute + 1e-9
    assert brute - d <= 0.5 * (ha + hb) + 1e-9
    assert np.linalg.norm(pa - pb) == pytest.approx(d, abs=1e-9)


def test_screw_gaps():
    a = Screw("a", [0, 0, 0], [0, 0, 80], 7.3)
    b = Screw("b", [10, 0, 5], [10, 0, 70], 7.3)
    c = Screw("c", [-20, 0, 40], [20, 0, 40], 6.5)
    assert screw_gap_mm(a, b) == pytest.approx(10 - 7.3)
    assert screw_gap_mm(a, c) == pytest.approx(-(3.65 + 3.25))  # crossing axes
    gaps = pairwise_gaps([a, b, c])
    assert [(g["a"], g["b"]) for g in gaps] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert gaps[2]["min_gap_mm"] == pytest.approx(-(3.65 + 3.25))
    assert gaps[0]["min_gap_mm"] == pytest.approx(2.7)


SCREW = Screw("m", [0, 0, 0], [0, 0, 50], 7.0)


@pytest.mark.parametrize("point, expected", [
    ((10, 0, 25), 6.5),          # beside the shaft
    ((0, 0, 60), 10.0),          # beyond the tip
    ((0, 0, -4), 4.0),           # behind the entry
    ((6.5, 0, 54), 5.0),         # off the tip rim: 3-4-5
    ((1, 0, 25), -2.5),          # inside: nearest surface is the side
    ((0, 0, 1.5), -1.5),         # inside near the entry face
])
def test_metal_clearance_analytic(point, expected):
    d, near = metal_clearance(SCREW, np.array([point], float))
    assert d == pytest.approx(expected, abs=1e-9)
    np.testing.assert_allclose(near, point)


def _cylinder_surface(screw, h=0.1):
    L, r = screw.length_mm, screw.radius_mm
    z = np.arange(0, L + h / 2, h)
    th = np.arange(0, 2 * np.pi, h / r)
    side = np.stack(np.broadcast_arrays(r * np.cos(th)[None], r * np.sin(th)[None], z[:, None]), -1).reshape(-1, 3)
    rr = np.arange(0, r + h / 2, h)
    disc = np.stack(np.broadcast_arrays(rr[:, None] * np.cos(th)[None], rr[:, None] * np.sin(th)[None], 0 * rr[:, None]), -1).reshape(-1, 3)
    return np.vstack([side, disc, disc + [0, 0, L]])


def test_metal_clearance_brute_force():
    rng = np.random.default_rng(7)
    pts = rng.uniform([-30, -30, -20], [30, 30, 70], size=(400, 3))
    radial = np.hypot(pts[:, 0], pts[:, 1])
    pts = pts[(radial > 3.6) | (pts[:, 2] < -0.1) | (pts[:, 2] > 50.1)]  # outside the screw
    d, near = metal_clearance(SCREW, pts)
    brute, _ = cKDTree(_cylinder_surface(SCREW)).query(pts)
    assert d == pytest.approx(brute.min(), abs=0.1)
    assert d <= brute.min() + 1e-9
    tree_d, _ = metal_clearance(SCREW, cKDTree(pts))
    assert tree_d == d


def test_metal_inputs():
    assert metal_clearance(SCREW, np.zeros((0, 3)))[0] == math.inf
    with pytest.raises(PosteoInputError):
        metal_clearance(SCREW, np.zeros((4, 2)))
    geo = ImageGeometry((4, 5, 6), (0.5, 0.8, 2.0), (10.0, -20.0, 30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    mask = np.zeros(geo.shape_kji, np.uint8)
    mask[3, 2, 1] = 1  # k=3, j=2, i=1
    np.testing.assert_allclose(metal_points_from_mask(mask, geo), [[10.0 + 0.5, -20.0 + 1.6, 30.0 + 6.0]])
