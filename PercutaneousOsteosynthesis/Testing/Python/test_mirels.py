"""Mirels' score against hand-computed tables."""

from __future__ import annotations

import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.lesions.mirels import mirels_score, site_of, size_score

# (site, pain, type, diameter fraction) -> total, by hand: items summed from Mirels' table
CASES = [
    (("upper limb", "mild", "blastic", 0.2), 4),
    (("lower limb", "moderate", "mixed", 0.5), 8),
    (("peritrochanteric", "functional", "lytic", 0.8), 12),
    (("peritrochanteric", "mild", "lytic", 0.5), 9),
    (("lower limb", "mild", "lytic", 0.34), 8),
    (("upper limb", "moderate", "blastic", 0.7), 7),
]


@pytest.mark.parametrize("args,total", CASES)
def test_totals_and_readings(args, total):
    r = mirels_score(*args)
    assert r.total == total and r.to_dict()["score"] == total
    if total <= 7:
        assert "radiotherapy" in r.reading
    elif total == 8:
        assert "clinical judgement" in r.reading
    else:
        assert "prophylactic fixation" in r.reading


def test_size_boundaries():
    assert [size_score(f) for f in (0.0, 0.33, 1 / 3, 0.5, 2 / 3, 0.67, 1.0)] == [1, 1, 2, 2, 2, 3, 3]
    with pytest.raises(PosteoInputError):
        size_score(-0.1)


def test_sites():
    assert site_of("left femur", [0, 0, -60.0], femur_top_z_lps=-27.0)[0] == "peritrochanteric"
    assert site_of("left femur", [0, 0, -150.0], femur_top_z_lps=-27.0)[0] == "lower limb"
    site, reason = site_of("right hip bone", [0, 0, 0])
    assert site is None and "long bones" in reason
    with pytest.raises(PosteoInputError):
        mirels_score("pelvis", "mild", "lytic", 0.5)
    with pytest.raises(PosteoInputError):
        mirels_score("lower limb", "severe", "lytic", 0.5)
