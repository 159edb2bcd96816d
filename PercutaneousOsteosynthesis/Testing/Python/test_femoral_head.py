"""Femoral head located in the phantom's bone model, and the tip-apex distance of a neck screw set."""

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.femoral_head import fit_sphere, locate_femoral_head
from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.screws.femoral_neck import neck_set_metrics
from PercutaneousOsteosynthesisLib.screws.roles import FEMORAL_NECK, OTHER
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def test_fit_sphere_exact():
    rng = np.random.default_rng(3)
    d = rng.normal(size=(200, 3))
    p = np.array([1.0, -2.0, 3.0]) + 21.5 * d / np.linalg.norm(d, axis=1)[:, None]
    c, r, rms = fit_sphere(p)
    assert np.allclose(c, [1, -2, 3], atol=1e-9) and r == pytest.approx(21.5) and rms < 1e-9


@pytest.mark.parametrize("side", ["left", "right"])
def test_head_matches_truth(phantom, phantom_bone, side):
    truth = phantom[1]["landmarks"]
    head = locate_femoral_head(phantom_bone, side)
    assert np.linalg.norm(head.centre_lps - truth[f"femoral_head_center_{side}_lps"]) < 1.0
    assert head.radius_mm == pytest.approx(phantom[1]["landmarks"]["femoral_head_radius_mm"], abs=1.0)


def test_tip_apex_distance_of_a_neck_set(phantom, phantom_bone):
    lm = phantom[1]["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])  # n: head -> lateral
    up = np.cross(n, np.cross([0, 0, 1.0], n))
    up /= np.linalg.norm(up)
    # named like any screw placed in the GUI: the role, not the name, makes them a femoral-neck set
    screws = [Screw(f"Screw {i}", h + 50 * n + o, h - 10 * n + o, 7.3, role=FEMORAL_NECK) for i, o in enumerate((4 * up, -4 * up))]
    apex = h - 23.0 * n  # the head's apex along the neck axis (truth radius 23 mm)
    (m,) = neck_set_metrics(screws, phantom_bone)
    assert m["side"] == "left" and m["screws"] == ["Screw 0", "Screw 1"]
    assert m["max_angle_deg"] == pytest.approx(0.0, abs=1e-6)
    for s in screws:
        assert m["tip_apex_distance_mm"][s.name] == pytest.approx(np.linalg.norm(s.tip_lps - apex), abs=1.2)


def test_no_femur_is_a_clear_error(real_bone_2mm):
    with pytest.raises(PosteoInputError, match="no separate femur"):
        locate_femoral_head(real_bone_2mm, "left")


def test_neck_metrics_follow_the_role_not_the_name(phantom, phantom_bone):
    lm = phantom[1]["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])
    up = np.cross(n, np.cross([0, 0, 1.0], n))
    up /= np.linalg.norm(up)
    named_only = [Screw(f"left neck {i}", h + 50 * n + o, h - 10 * n + o, 7.3, role=OTHER) for i, o in enumerate((4 * up, -4 * up))]
    assert neck_set_metrics(named_only, phantom_bone) == []
