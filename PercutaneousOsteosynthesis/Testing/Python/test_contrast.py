"""Contrast-enhanced soft tissue (bone.contrast): a vessel beside the pelvic wall, at arterial or venous HU after contrast
injection, is not bone; a screw leaving the hip bone into it reads as leaving the bone."""

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.contrast import CONTRAST_STRUCTURE
from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
from PercutaneousOsteosynthesisLib.bone.nogo import ENHANCED
from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom
from PercutaneousOsteosynthesisLib.plan.model import Plan
from PercutaneousOsteosynthesisLib.plan.runner import run_plan
from PercutaneousOsteosynthesisLib.report.format import nogo_text
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
from PercutaneousOsteosynthesisLib.screws.screw import Screw

BONES = {"sacrum", "left hip bone", "right hip bone", "left femur", "right femur"}


@pytest.fixture(scope="module", params=[("oblique", 300.0), ("identity", 450.0)], ids=["oblique-300HU", "identity-450HU"])
def enhanced(request):
    """On the oblique grid at 300 HU, the partial volume of the 1 mm gap joins the right vessel to the hip bone (85 % of
    it read as bone before bone.contrast cut it off); at 450 HU on an axis-aligned grid, both."""
    direction, contrast = request.param
    ct, truth = make_phantom(1.0, direction, preset="elderly", contrast_hu=contrast)
    return ct, truth, build_bone_model(ct)


def _vessel_axis(v, n=121):
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.asarray(v.a) + t * (np.asarray(v.b) - np.asarray(v.a))


def test_the_phantom_vessels_lie_beside_the_medial_wall(anatomy):
    """The phantom's own geometry: each vessel comes within 1 mm of the hip bone and lies outside every bone."""
    assert [v.name for v in anatomy.vessels] == ["left pelvic wall vessel", "right pelvic wall vessel"]
    for v in anatomy.vessels:
        gap = anatomy.bone_sdf(_vessel_axis(v)) - v.radius
        assert gap.min() == pytest.approx(1.0, abs=0.05)
    left, right = anatomy.vessels
    assert np.asarray(left.a)[0] > 0 > np.asarray(right.a)[0]  # patient left is +x (LPS)


def test_contrast_enhanced_vessels_are_not_bone(enhanced, anatomy, tmp_path):
    ct, truth, bone = enhanced
    assert truth["hu"]["contrast"] in (300.0, 450.0) and len(truth["vessels"]) == 2
    g = bone.geometry
    # the model's voxels at least 0.5 mm inside a vessel: none is bone (before bone.contrast: 63-85 % of them were)
    k, j, i = np.indices(bone.labels.shape)
    lps = g.ijk_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]).astype(float))
    for v in anatomy.vessels:
        inside = v.sdf(lps) < -0.5
        assert inside.sum() > 1500
        assert not (bone.labels.ravel()[inside] > 0).any(), v.name
    # what was left out is the two vessels' volume outside bone (Monte Carlo of the analytic shapes)
    rng = np.random.default_rng(3)
    vessel_ml = 0.0
    for v in anatomy.vessels:
        lo = np.minimum(v.a, v.b) - v.radius
        hi = np.maximum(v.a, v.b) + v.radius
        p = lo + rng.random((400_000, 3)) * (hi - lo)
        vessel_ml += float(np.prod(hi - lo)) * float(np.mean((v.sdf(p) < 0) & (anatomy.bone_sdf(p) > 0))) / 1000.0
    assert bone.contrast_ml == pytest.approx(vessel_ml, rel=0.2)
    # the bones are untouched: the five bones, their volume as in truth
    assert {c["name"] for c in bone.components} == BONES
    assert bone.volumes_ml()["bone"] == pytest.approx(truth["bone_volume_ml"], rel=0.05)
    # a screw from the right supra-acetabular pillar through the medial wall, its tip in the vessel: the field at the
    # tip reads the distance to the true bone surface (it read inside bone), and the screw is a breach
    v = anatomy.vessels[1]
    tip = _vessel_axis(v)[np.argmin(anatomy.bone_sdf(_vessel_axis(v)))]
    entry = tip + np.array([-45.0, 0.0, 20.0])
    assert anatomy.bone_sdf(tip[None])[0] > 4.5
    assert bone.signed_distance_lps(tip[None])[0] == pytest.approx(anatomy.bone_sdf(tip[None])[0], abs=1.0)
    screw = Screw("into the vessel", entry, tip, 7.3)
    check = check_screw(screw, bone)
    assert check.grade == "breach"
    # the vessels left out are a no-go structure: the screw enters it, and says so
    assert check.enhanced == [CONTRAST_STRUCTURE] and check.neural == []
    text = nogo_text(check.nogo_clearance_mm, check.neural, check.articular, check.implant, check.enhanced)
    assert text.startswith("enters ") and text.endswith(CONTRAST_STRUCTURE)  # (through the hip joint on its way)
    report = run_plan(ct, Plan(screws=[screw]), tmp_path / "plan", bone=bone)
    assert any("contrast-enhanced vessels" in w for w in report["warnings"])
    assert report["screws"][0]["enhanced"] == [CONTRAST_STRUCTURE]
    # the same screw stopped 5 mm short of the vessel's wall (analytic): its clearance to the structure is that 5 mm
    direction = (entry - tip) / np.linalg.norm(entry - tip)
    s = np.arange(0.0, 40.0, 0.01)
    wall_gap = v.sdf(tip + s[:, None] * direction) - 0.5 * 7.3
    short_tip = tip + s[np.argmax(wall_gap >= 5.0)] * direction
    short = check_screw(Screw("short of the vessel", entry, short_tip, 7.3), bone)
    axis = entry + np.linspace(0.0, 1.0, 400)[:, None] * (short_tip - entry)
    expected = float(min(v.sdf(axis).min(), anatomy.vessels[0].sdf(axis).min())) - 0.5 * 7.3
    assert expected == pytest.approx(5.0, abs=0.05)
    assert short.nogo_clearance_mm[CONTRAST_STRUCTURE] == pytest.approx(expected, abs=1.0)
    assert short.enhanced == []


def test_the_vessels_left_out_are_a_no_go_structure(enhanced, anatomy):
    """One structure of the contrast-enhanced kind: its points lie in the vessels (within a voxel of their analytic
    surface) and cover the vessels' voxels outside bone."""
    ct, truth, bone = enhanced
    found = [n for n in bone.nogo_structures() if n.kind == ENHANCED]
    assert [n.name for n in found] == [CONTRAST_STRUCTURE]
    points = found[0].points_lps
    in_vessel = np.min([v.sdf(points) for v in anatomy.vessels], axis=0)
    assert in_vessel.max() < 0.87  # a voxel's half diagonal
    g = bone.geometry
    k, j, i = np.indices(bone.labels.shape)
    lps = g.ijk_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]).astype(float))
    deep = (np.min([v.sdf(lps) for v in anatomy.vessels], axis=0) < -0.5) & (anatomy.bone_sdf(lps) > 0.5)
    covered = found[0].clearance_mm(lps[deep][::7], 0.0)  # one call over the points: the minimum
    assert covered < 0
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(lps[deep])
    assert np.mean(d < 0.01) > 0.9


def test_real_bone_is_not_taken_for_contrast(real_bone_1mm):
    """The Visible Human at 1 mm (dense, textured cancellous bone; no contrast): nothing is left out."""
    assert real_bone_1mm.contrast_ml == 0.0
    assert not [n for n in real_bone_1mm.nogo_structures() if n.kind == ENHANCED]


def test_contrast_from_the_command_line(tmp_path, anatomy):
    """``posteo phantom --contrast-hu 300``: the truth lists both vessels, and the CT reads the contrast at their axes
    (3 mm voxels inside an 8 mm vessel, averaged from 1 mm) and muscle there without the option."""
    import json

    from PercutaneousOsteosynthesisLib.cli.main import main
    from PercutaneousOsteosynthesisLib.fileio.volume import read_ct
    from PercutaneousOsteosynthesisLib.geometry.sampling import VolumeSampler

    for option, expected in ((["--contrast-hu", "300"], 300.0), ([], 45.0)):
        out = tmp_path / f"p{len(option)}.nrrd"
        assert main(["-q", "phantom", str(out), "--spacing", "3", "--preset", "elderly", "--direction", "identity"] + option) == 0
        truth = json.loads(out.with_name(out.name.replace(".nrrd", ".truth.json")).read_text())
        assert ("vessels" in truth) == bool(option)
        ct = read_ct(out)
        for v in anatomy.vessels:
            centre = 0.5 * (np.asarray(v.a) + np.asarray(v.b))
            assert VolumeSampler(ct.array, ct.geometry)(centre[None])[0] == pytest.approx(expected, abs=40.0)
