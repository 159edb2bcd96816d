"""Whole-screw clearance checks against the phantom's analytic truth."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw, check_screws, summarize_profile
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def _screw(p, implant_id=None):
    return Screw(p["name"], p["entry_lps"], p["tip_lps"], p["diameter_mm"], implant_id)


def _exact_along(anatomy, p, step=0.25):
    """True when the analytic signed distance is exact at every sample of the path."""
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    s = np.arange(0.0, p["length_mm"] + 1e-9, step)
    return bool(anatomy.exact_mask(e + s[:, None] * (t - e) / p["length_mm"]).all())


def test_grades_and_clearance_against_truth(phantom, phantom_bone, anatomy):
    _, truth = phantom
    for p in truth["screw_paths"]:
        c = check_screw(_screw(p), phantom_bone)
        assert (c.grade == "breach") == (not p["safe"]), p["name"]
        if p["min_clearance_exact"]:
            assert abs(c.min_clearance_mm - p["min_clearance_mm"]) <= 0.5, p["name"]
        if not p["safe"]:
            # both unsafe paths start in bone: the entry zone leaves out no negative clearance
            assert (c.profile_clearance_mm[c.profile_s_mm < c.entry_zone_mm] >= 0).all(), p["name"]
            if _exact_along(anatomy, p):
                assert abs(c.breach_length_mm - p["breach_length_mm"]) <= 1.0, p["name"]
            else:  # the union's inside distance underestimates depth: the truth's breach is an upper bound
                assert c.breach_length_mm <= p["breach_length_mm"] + 1.0, p["name"]
                assert c.breach_length_mm > 0.5 * p["breach_length_mm"], p["name"]
        assert abs(c.bone_fraction - p["bone_fraction"]) < 0.05, p["name"]


def test_joints(phantom, phantom_bone):
    _, truth = phantom
    paths = {p["name"].split(" (")[0]: p for p in truth["screw_paths"]}
    si = check_screw(_screw(paths["left iliosacral S1"]), phantom_bone)
    assert si.grade != "breach" and si.joints_crossed == 1 and not si.tip_in_joint
    hip = check_screw(_screw(paths["left supra-acetabular into the hip joint"]), phantom_bone)
    assert hip.grade == "breach" and hip.joints_crossed == 0
    # the same path stopped in the hip joint space (3 mm gap): the tip lies in the joint
    p = paths["left supra-acetabular into the hip joint"]
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    u = (t - e) / np.linalg.norm(t - e)
    s = np.arange(20.0, 55.0, 0.1)
    outside = phantom_bone.signed_distance_lps(e + s[:, None] * u) > 0
    gap_mid = s[outside].mean()  # the joint space crossed by the path
    stopped = Screw("into joint", e, e + gap_mid * u, 7.3)
    c = check_screw(stopped, phantom_bone)
    assert c.tip_in_joint and c.tip_protrusion_mm > 0
    neck = check_screw(_screw(paths["left femoral neck"]), phantom_bone)
    assert not neck.tip_in_joint and neck.tip_protrusion_mm == 0.0
    wing = check_screw(_screw(paths["left iliac wing exiting the inner table"]), phantom_bone)
    assert not wing.tip_in_joint
    assert abs(wing.tip_protrusion_mm - (-wing.min_clearance_mm - 3.25)) < 0.3  # tip 5.9 mm out into the pelvis


def test_entry_zone_excluded():
    s = np.arange(0.0, 30.01, 0.5)
    # 2 mm of soft tissue, the near cortex crossed (clearance rising from -3.65 to 4), a plateau, then an exit
    c = np.clip(-3.65 + 1.0 * (s - 2.0), -5.0, 4.0)
    c[s < 2.0] = -5.0
    c[s > 20] = -1.0
    cmin, at, breach, zone = summarize_profile(s, c, 10.0, radius_mm=3.65)
    assert zone == pytest.approx(10.0) and cmin == -1.0 and abs(breach - 10.0) < 0.5 + 1e-9
    # a screw grazing the cortex (axis in bone, cylinder out, flat): nothing is left out
    cmin, at, breach, zone = summarize_profile(s, np.full(len(s), -1.0), 10.0, radius_mm=3.65)
    assert zone == 0.0 and abs(breach - 30.0) <= 0.5
    # a shallow entry that stays negative beyond 10 mm: the zone stops there and the rest is breach
    c = np.minimum(-3.0 + 0.2 * s, 2.0)
    cmin, at, breach, zone = summarize_profile(s, c, 10.0, radius_mm=3.65)
    assert zone == pytest.approx(10.5) and cmin < 0 and breach == pytest.approx(4.5, abs=0.5)


def test_bad_input(phantom_bone, phantom):
    p = phantom[1]["screw_paths"][0]
    good = _screw(p)
    bad = _screw(p)
    bad.entry_lps = np.array([np.nan, 0.0, 0.0])
    with pytest.raises(PosteoInputError, match="finite"):
        check_screw(bad, phantom_bone)
    bad = _screw(p)
    bad.tip_lps = bad.entry_lps.copy()
    with pytest.raises(PosteoInputError, match="same point"):
        check_screw(bad, phantom_bone)
    bad = _screw(p)
    bad.diameter_mm = 0.0
    with pytest.raises(PosteoInputError, match="diameter"):
        check_screw(bad, phantom_bone)
    with pytest.raises(PosteoInputError, match="CS-7.3-XX"):
        check_screw(_screw(p, "CS-7.3-XX-090"), phantom_bone)
    far = Screw("far", [5000.0, 5000.0, 5000.0], [5000.0, 5000.0, 5100.0], 7.3)
    with pytest.raises(PosteoInputError, match="outside the CT"):
        check_screw(far, phantom_bone)
    with pytest.raises(PosteoInputError, match="unique"):
        check_screws([good, good], phantom_bone)


def test_check_screws_pairs_and_metal(phantom, phantom_bone):
    _, truth = phantom
    screws = [_screw(p) for p in truth["screw_paths"]]
    checks, pairs = check_screws(screws, phantom_bone)
    assert len(pairs) == 6 and all(np.isfinite(x["min_gap_mm"]) for x in pairs)
    # metal: the existing right femoral neck screw; the left screws are far from it (> 100 mm, LPS x)
    m = truth["metal"][0]
    a, b = np.array(m["a_lps"]), np.array(m["b_lps"])
    for s, c in zip(screws, checks):
        assert c.metal_clearance_mm is not None
        # brute force: distance between the two axes minus both radii bounds the cylinder distance from below
        from PercutaneousOsteosynthesisLib.screws.pairs import segment_distance_lps

        d = segment_distance_lps(s.entry_lps, s.tip_lps, a, b)[0]
        assert c.metal_clearance_mm >= d - s.radius_mm - m["radius_mm"] - 1.5
        assert c.metal_clearance_mm <= d - s.radius_mm + 1.5
    # a screw parallel to the metal, 2 mm from its surface
    u = (b - a) / np.linalg.norm(b - a)
    perp = np.cross(u, [0.0, 0.0, 1.0])
    perp /= np.linalg.norm(perp)
    off = m["radius_mm"] + 2.0 + 3.65
    near = Screw("near metal", a + off * perp + 2 * u, b + off * perp - 2 * u, 7.3)
    (c,), _ = check_screws([near], phantom_bone)
    assert abs(c.metal_clearance_mm - 2.0) < 1.0


def test_a_screw_into_an_old_implant_is_a_breach(phantom, phantom_bone):
    """The phantom's old screw (a metal cylinder in the right femoral neck, from its truth): a new screw drawn along
    it lies in bone all along (the metal is inside the bone envelope) yet runs into the implant: a breach, named; one
    parallel to it, 3 mm clear of its surface, is not."""
    _, truth = phantom
    m = truth["metal"][0]
    a, b = np.array(m["a_lps"]), np.array(m["b_lps"])
    u = (b - a) / np.linalg.norm(b - a)
    into = check_screw(Screw("into old screw", a + 5 * u, b - 5 * u, 7.3), phantom_bone)
    assert into.min_clearance_mm > -1.0  # the bone alone would not call it a breach
    assert into.grade == "breach" and into.implant == ["existing implant (metal)"] and into.neural == []
    assert into.metal_clearance_mm < -m["radius_mm"]
    assert "existing implant (metal)" in into.to_dict()["implant"]
    perp = np.cross(u, [0.0, 0.0, 1.0])
    perp /= np.linalg.norm(perp)
    off = m["radius_mm"] + 3.0 + 3.65
    beside = check_screw(Screw("beside old screw", a + off * perp + 2 * u, b + off * perp - 2 * u, 7.3), phantom_bone)
    assert beside.implant == [] and beside.metal_clearance_mm == pytest.approx(3.0, abs=1.0)
