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
    assert m["neck_axis_source"] == "anatomical"
    for s in screws:
        assert m["tip_apex"][s.name]["tip_apex_3d_mm"] == pytest.approx(np.linalg.norm(s.tip_lps - apex), abs=1.2)


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


@pytest.mark.parametrize("side", ["left", "right"])
def test_neck_axis_matches_truth(phantom, phantom_bone, side):
    from PercutaneousOsteosynthesisLib.bone.femoral_head import neck_axis_lps

    truth = np.array(phantom[1]["landmarks"][f"neck_axis_{side}_lps"])  # head -> lateral
    axis = neck_axis_lps(phantom_bone, locate_femoral_head(phantom_bone, side))
    assert np.degrees(np.arccos(axis @ truth / np.linalg.norm(truth))) < 5.0


def _truth_tad(tip, h, n, radius):
    """Baumgaertner's TAD by hand: apex on the truth neck axis, AP view = drop y, lateral view = drop the horizontal
    direction perpendicular to the neck."""
    apex = h - radius * n
    d = tip - apex
    horizontal = np.array([n[0], n[1], 0.0]) / np.hypot(n[0], n[1])
    beam = np.cross([0, 0, 1.0], horizontal)
    return np.hypot(d[0], d[2]) + np.linalg.norm(d - (d @ beam) * beam)


def test_tad_uses_the_anatomical_axis_not_the_screws(phantom, phantom_bone):
    """A set tilted 20 deg off the neck reads a different (larger) TAD than an aligned set with the same tips."""
    lm = phantom[1]["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])
    n /= np.linalg.norm(n)
    radius = lm["femoral_head_radius_mm"]
    up = np.cross(n, np.cross([0, 0, 1.0], n))
    up /= np.linalg.norm(up)
    side = np.cross(n, up)
    tilted_axis = np.cos(np.radians(20)) * n + np.sin(np.radians(20)) * up
    results = {}
    for label, axis in (("aligned", n), ("tilted", tilted_axis)):
        tips = [h - 8 * n + o for o in (4 * up + 3 * side, 4 * up - 3 * side, -5 * up)]
        screws = [Screw(f"{label} {i}", tip + 70 * axis, tip, 7.3, role=FEMORAL_NECK) for i, tip in enumerate(tips)]
        (m,) = neck_set_metrics(screws, phantom_bone)
        for s in screws:
            assert m["tip_apex_distance_mm"][s.name] == pytest.approx(_truth_tad(s.tip_lps, h, n, radius), abs=2.0)
        results[label] = m
    # tips 8 mm deep: the same truth TAD for both sets; the old screw-axis apex would have read them differently
    a, b = results["aligned"]["tip_apex_distance_mm"], results["tilted"]["tip_apex_distance_mm"]
    assert sorted(a.values()) == pytest.approx(sorted(b.values()), abs=1e-6)
    assert results["aligned"]["inverted_triangle"] is True
    sub = results["aligned"]["tip_apex"]["aligned 2"]["tip_subchondral_mm"]
    assert sub == pytest.approx(radius - np.linalg.norm([8.0, 5.0]), abs=1.0)


def test_neck_configuration_rules_against_the_phantom_neck(phantom, phantom_bone):
    """Inverted triangle parallel to the truth neck axis (phantom neck: a 14.5 mm radius cylinder): the inferior
    screw's gap to the calcar and the posterior screw's gap to the posterior cortex are 14.5 - offset - 3.65 mm;
    a screw entering 40 mm below the lesser trochanter's lower end is flagged."""
    from PercutaneousOsteosynthesisLib.bone.femur_levels import trochanteric_end_z_lps
    from PercutaneousOsteosynthesisLib.screws.neck_rules import NEAR_CORTEX_MM, neck_frame

    lm = phantom[1]["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])
    up, back = neck_frame(n)
    offsets = {"inferior": -9.0 * up, "anterior": 4.0 * up - 6.0 * back, "posterior": 4.0 * up + 8.5 * back}
    screws = [Screw(k, h + 40 * n + o, h - 12 * n + o, 7.3, role=FEMORAL_NECK) for k, o in offsets.items()]
    (m,) = neck_set_metrics(screws, phantom_bone)
    rules = m["configuration"]
    assert m["inverted_triangle"] is True
    assert rules["inferior_screw"] == "inferior" and rules["posterior_screw"] == "posterior"
    assert rules["inferior_cortex_mm"] == pytest.approx(14.5 - 9.0 - 3.65, abs=0.8)
    assert rules["posterior_cortex_mm"] == pytest.approx(14.5 - 8.5 - 3.65, abs=0.8)
    assert rules["findings"] == [] and rules["entries_below_lesser_trochanter"] == []
    # the same set shifted 4 mm up and 5 mm forward: neither rests on its cortex any more (gaps about 4.95 mm)
    far = [Screw(s.name, s.entry_lps + 4 * up - 5 * back, s.tip_lps + 4 * up - 5 * back, 7.3, role=FEMORAL_NECK) for s in screws]
    (m,) = neck_set_metrics(far, phantom_bone)
    rules = m["configuration"]
    assert min(rules["inferior_cortex_mm"], rules["posterior_cortex_mm"]) > NEAR_CORTEX_MM and len(rules["findings"]) == 2
    # an entry low on the shaft: below the lesser trochanter's lower end (from the femur's own cross-sections)
    femur = next(c for c in phantom_bone.components if c["name"] == "left femur")
    z_lt = trochanteric_end_z_lps(phantom_bone, femur, float(h[2]))
    low_entry = np.array([h[0] + 30.0, h[1], z_lt - 40.0])
    steep = screws[:2] + [Screw("low entry", low_entry, h - 12 * n + offsets["posterior"], 7.3, role=FEMORAL_NECK)]
    (m,) = neck_set_metrics(steep, phantom_bone)
    assert m["configuration"]["entries_below_lesser_trochanter"] == ["low entry"]
    assert any("below the lesser trochanter" in f for f in m["configuration"]["findings"])
