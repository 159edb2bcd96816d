"""The centre of a flat optimum (corridors.centre) against analytic truths: a slab whose widest lines form a flat
set symmetric about its axis, and two mirror-image optima."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.corridors.centre import find_corridor_line
from PercutaneousOsteosynthesisLib.corridors.search import SearchRegion, TipRule
from PercutaneousOsteosynthesisLib.phantom.shapes import RoundBox

HALF = np.array([50.0, 12.0, 10.0])  # mm along x (the pathway), y (2 mm of play beyond the 10 mm radius), z


def _slab_depth(p):
    return -RoundBox(np.zeros(3), HALF, np.eye(3), 1.0).sdf(p)


def _angle_deg(d, axis):
    return float(np.degrees(np.arccos(min(1.0, abs(d @ axis)))))


def test_centre_of_a_flat_optimum_is_the_axis_of_symmetry():
    """Every line within 2 mm (y) of the slab's axis at both ends is 10 mm from its faces: a flat set, symmetric about
    the axis (x). From a nominal direction 5 degrees off and a centre 3 mm off, the centre is the axis."""
    nominal = np.array([1.0, np.tan(np.radians(5.0)), 0.0])
    region = SearchRegion((0.0, 3.0, 0.0), tuple(nominal / np.linalg.norm(nominal)), 8.0, 12.0, 70.0, 70.0, TipRule())
    line = find_corridor_line(region, _slab_depth)
    assert _angle_deg(line.direction_lps, np.array([1.0, 0.0, 0.0])) < 0.7
    mid = line.point_lps + ((0.0 - line.point_lps[0]) / line.direction_lps[0]) * line.direction_lps  # at x = 0
    assert np.hypot(mid[1], mid[2]) < 0.5
    assert line.radius_mm == pytest.approx(10.0, abs=0.15)


def test_centre_keeps_one_of_two_mirror_optima():
    """Two slabs crossing at 14 degrees at the origin: two equal optima, mirror images of each other; the centre is
    the axis of one of them (the line between them is much narrower), its full width."""
    rot = [np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]]) for a in np.radians([7.0, -7.0])]
    slabs = [RoundBox(np.zeros(3), np.array([50.0, 10.5, 10.0]), r, 1.0) for r in rot]

    def depth(p):
        return -np.minimum(slabs[0].sdf(p), slabs[1].sdf(p))

    region = SearchRegion((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 8.0, 12.0, 70.0, 70.0, TipRule())
    line = find_corridor_line(region, depth)
    assert min(_angle_deg(line.direction_lps, r[:, 0]) for r in rot) < 1.0
    assert line.radius_mm == pytest.approx(10.0, abs=0.3)
