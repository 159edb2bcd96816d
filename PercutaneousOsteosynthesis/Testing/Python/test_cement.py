"""Cement simulation on the phantom: volumes, lesion filling, leakage flags, screws in contact; the lesion/cement report."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.lesions.analysis import analyze_lesions_and_cement
from PercutaneousOsteosynthesisLib.lesions.cement import simulate_cement
from PercutaneousOsteosynthesisLib.lesions.segmentation import segment_lesion
from PercutaneousOsteosynthesisLib.plan.model import CementInjection, LesionSeed, Plan
from PercutaneousOsteosynthesisLib.screws.screw import Screw


@pytest.fixture(scope="module")
def lesions(phantom, phantom_bone):
    ct, truth = phantom
    return [segment_lesion(ct, phantom_bone, t["center_lps"], t["name"]) for t in truth["lesions"]]


def test_volumes_and_leakage(phantom, phantom_bone, lesions):
    ct, truth = phantom
    voxel_ml = phantom_bone.geometry.voxel_volume_mm3 / 1000.0
    left, right = truth["lesions"]
    for v in (2.0, 0.9 * lesions[0].volume_ml):
        r = simulate_cement(ct, phantom_bone, left["center_lps"], v, lesions, "left")
        assert abs(r.volume_ml - v) <= voxel_ml * v
        assert r.mask.sum() * voxel_ml == pytest.approx(r.volume_ml)
        assert not r.leak_risk["at_risk"], r.leak_risk
        assert r.lesion_fill_fraction[left["name"]] == pytest.approx(v / lesions[0].volume_ml, abs=0.01)
        # 9 mm lesion in a 17 mm pillar: about 8 mm of bone to the surface
        assert r.leak_risk["distances_mm"]["bone_surface"] > 5.0
    for v in (2.0, 5.0, 15.0):
        r = simulate_cement(ct, phantom_bone, right["center_lps"], v, lesions, "right")
        assert abs(r.volume_ml - v) <= voxel_ml * v
        assert r.leak_risk["at_risk"]
        assert any(x["kind"] == "cortical_defect" for x in r.leak_risk["reasons"])
    # lesion first: 15 mL fills the right lesion completely, the rest goes into cancellous bone, no cortex
    assert r.lesion_fill_fraction[right["name"]] == 1.0
    labels = phantom_bone.labels[r.mask]
    assert not np.any(labels == 1) and not np.any(labels == 3)
    # fill-fraction variant
    r = simulate_cement(ct, phantom_bone, left["center_lps"], None, lesions, "ff", fill_fraction=0.5)
    assert r.lesion_fill_fraction[left["name"]] == pytest.approx(0.5, abs=0.002)


def test_screws_in_contact_and_bad_input(phantom, phantom_bone, lesions):
    ct, truth = phantom
    c = np.asarray(truth["lesions"][0]["center_lps"])
    through = Screw("through", c + [0, 0, 30.0], c - [0, 0, 30.0], 7.3)
    far = Screw("far", c + [60.0, 0, 30.0], c + [60.0, 0, -30.0], 7.3)
    r = simulate_cement(ct, phantom_bone, c, 2.0, lesions, "s", screws=[through, far])
    assert r.screws_in_contact == ["through"]
    with pytest.raises(PosteoInputError, match="> 0"):
        simulate_cement(ct, phantom_bone, c, 0.0, lesions)
    with pytest.raises(PosteoInputError, match="outside bone"):
        simulate_cement(ct, phantom_bone, [0.0, -95.0, -20.0], 2.0, lesions)
    # 1 mL of cortex-bounded cancellous bone? no: ask far more than the left femur's marrow can hold
    head = np.asarray(truth["landmarks"]["femoral_head_center_left_lps"])
    r = simulate_cement(ct, phantom_bone, head, 90.0, lesions, "big")
    assert r.warnings and "reachable" in r.warnings[0]
    assert r.volume_ml < 90.0


def test_report(phantom, phantom_bone):
    ct, truth = phantom
    left, right = truth["lesions"]
    c = np.asarray(left["center_lps"])
    screw = Screw("across", c - 40.0 * np.array([0.0, 0.0, 1.0]), c + 40.0 * np.array([0.0, 0.0, 1.0]), 6.5)
    plan = Plan(lesions=[LesionSeed(left["name"], c, "functional"), LesionSeed(right["name"], right["center_lps"])],
                cement=[CementInjection("cement left", c, 2.5)], screws=[screw])
    rep = analyze_lesions_and_cement(ct, phantom_bone, plan)
    l0, l1 = rep["lesions"]
    assert l0["volume_ml"] == pytest.approx(left["volume_ml"], rel=0.1)
    assert l0["cortical_breakthrough"] is False and l1["cortical_breakthrough"] is True
    assert l0["mirels"]["score"] is None and "long bones" in l0["mirels"]["reason"]
    rel = l0["screws"][0]
    assert rel["crosses_lesion"] and rel["distance_to_lesion_mm"] == 0.0
    assert rel["anchorage_mm"] < 40.0 - 9.0 + 1.0  # at most what lies beyond the lesion's far end
    assert rep["cement"][0]["volume_ml"] == pytest.approx(2.5, abs=0.001)
    assert "across" in rep["cement"][0]["screws_in_contact"]
    names = [s[0] for s in rep["segments"]]
    assert names == [left["name"], right["name"], "cement left"]
    assert all(m.shape == phantom_bone.geometry.shape_kji for _, m, _ in rep["segments"])
