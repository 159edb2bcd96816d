"""Femoral-neck screw configuration against analytic configurations."""

import math

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.screws.femoral_neck import (
    head_apex_lps,
    max_pairwise_angle_deg,
    neck_configuration,
    spread,
    spread_points_lps,
    tip_apex_distances_mm,
)
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def _parallel_triangle():
    # three screws along -x (lateral to medial for a right hip in LPS), axes through (y, z) = (0,0), (10,0), (0,12)
    return [Screw(f"s{i}", [60.0, y, z], [5.0, y, z], 7.3) for i, (y, z) in enumerate([(0, 0), (10, 0), (0, 12)])]


def test_parallel_spread():
    screws = _parallel_triangle()
    assert max_pairwise_angle_deg(screws) == pytest.approx(0.0, abs=1e-6)
    dmax, area = spread(screws)
    assert dmax == pytest.approx(math.hypot(10, 12))
    assert area == pytest.approx(0.5 * 10 * 12)
    pts = spread_points_lps(screws)
    np.testing.assert_allclose(pts[:, 0], 32.5)  # centroid of the midpoints: x = (60 + 5) / 2


def test_reversed_screw_counts_as_parallel():
    screws = _parallel_triangle()
    s = screws[1]
    screws[1] = Screw("rev", s.tip_lps, s.entry_lps, 7.3)
    assert max_pairwise_angle_deg(screws) == pytest.approx(0.0, abs=1e-6)
    assert spread(screws)[1] == pytest.approx(60.0)


def test_angles_between_tilted_screws():
    a3, a4 = math.radians(3), math.radians(4)
    u1 = np.array([-1.0, 0.0, 0.0])
    u2 = np.array([-math.cos(a3), math.sin(a3), 0.0])      # 3 deg in the axial plane
    u3 = np.array([-math.cos(a4), 0.0, math.sin(a4)])      # 4 deg in the coronal plane
    screws = [Screw(f"s{i}", p, p + 50 * u, 6.5) for i, (p, u) in enumerate(
        [(np.array([60.0, 0, 0]), u1), (np.array([60.0, 10, 0]), u2), (np.array([60.0, 0, 12]), u3)])]
    expected = math.degrees(math.acos(math.cos(a3) * math.cos(a4)))  # u2 . u3 = cos3 cos4
    assert max_pairwise_angle_deg(screws) == pytest.approx(expected, abs=1e-9)
    assert max_pairwise_angle_deg(screws[:2]) == pytest.approx(3.0, abs=1e-9)
    # intersection points lie in the plane through the given point, perpendicular to the mean axis
    mean = u1 + u2 + u3
    mean /= np.linalg.norm(mean)
    c = np.array([40.0, 3.0, 2.0])
    pts = spread_points_lps(screws, c)
    np.testing.assert_allclose((pts - c) @ mean, 0.0, atol=1e-9)
    for s, p in zip(screws, pts):
        assert np.linalg.norm(np.cross(p - s.entry_lps, s.direction_lps)) == pytest.approx(0.0, abs=1e-9)


def test_tip_apex_distance():
    # screws run toward -x (into the head); head centre at x=45, radius 25: apex at (20, 0, 0)
    screws = [Screw("a", [80, 3, 4], [20, 3, 4], 7.3), Screw("b", [80, -6, 0], [22, -6, 0], 7.3)]
    centre = np.array([45.0, 0.0, 0.0])
    apex = centre + 25.0 * np.array([-1.0, 0.0, 0.0])  # (20, 0, 0)
    np.testing.assert_allclose(head_apex_lps(centre, 25.0, [-2.0, 0, 0]), apex)
    expected = [math.sqrt(0 + 9 + 16), math.sqrt(4 + 36)]
    for axis in ([-1.0, 0, 0], [1.0, 0, 0]):  # the sign is taken from the screws
        assert tip_apex_distances_mm(screws, centre, 25.0, axis) == pytest.approx(expected)
    cfg = neck_configuration(screws, centre, 25.0, [1.0, 0, 0]).to_dict()
    assert cfg["tip_apex_mm"] == pytest.approx({"a": 5.0, "b": math.sqrt(40)})
    assert cfg["max_distance_mm"] == pytest.approx(math.hypot(9, 4)) and cfg["hull_area_mm2"] == 0.0


def test_bad_input():
    s = _parallel_triangle()
    with pytest.raises(PosteoInputError):
        spread(s[:1])
    with pytest.raises(PosteoInputError):
        head_apex_lps([0, 0, 0], -1.0, [1, 0, 0])
    with pytest.raises(PosteoInputError):
        head_apex_lps([0, 0, 0], 20.0, [0, 0, 0])
