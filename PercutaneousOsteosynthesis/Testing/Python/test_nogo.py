"""No-go structures found from the CT against the phantom's analytic sacral canal and S1/S2 foramina: where they
are, each screw's clearance to them, and a screw entering one graded a (neural) breach."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from PercutaneousOsteosynthesisLib.phantom.exact_depth import envelope_surface_samples
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def _segment_distance(p, a, b):
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def test_structures_found_where_the_phantom_has_them(phantom, phantom_bone):
    found = {n.name: n for n in phantom_bone.nogo_structures() if not n.name.endswith(("hip joint", "sciatic notch"))}
    truth = {t["name"]: t for t in phantom[1]["nogo"]}
    assert set(found) == set(truth)  # sacral canal, left/right S1 and S2 foramina: named by side and level
    for name, t in truth.items():
        a, b = np.array(t["a_lps"]), np.array(t["b_lps"])
        pts = found[name].points_lps
        assert np.linalg.norm(pts.mean(axis=0) - 0.5 * (a + b)) < 2.0, name
        assert _segment_distance(pts, a, b).max() <= t["radius_mm"] + 1.0, name  # inside the tunnel (voxel centres)


def test_clearance_to_the_canal_and_neural_breach(phantom, phantom_bone):
    truth = {t["name"]: t for t in phantom[1]["nogo"]}
    canal = truth["sacral canal"]
    a, b = np.array(canal["a_lps"]), np.array(canal["b_lps"])
    path = next(p for p in phantom[1]["screw_paths"] if "iliosacral" in p["name"])
    screw = Screw("S1", path["entry_lps"], path["tip_lps"], 7.3)
    check = check_screw(screw, phantom_bone)
    _, pts = screw.axis_points_lps(0.05)
    expected = _segment_distance(pts, a, b).min() - canal["radius_mm"] - 3.65  # analytic
    assert check.nogo_clearance_mm["sacral canal"] == pytest.approx(expected, abs=1.0)
    assert check.grade != "breach" and check.neural == []
    # from the same entry, aimed at the canal's axis at the same level: its tip enters the canal
    nearest = a + np.clip(((screw.tip_lps - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1) * (b - a)
    deep = Screw("S1 into the canal", screw.entry_lps, nearest, 7.3)
    deep_check = check_screw(deep, phantom_bone)
    _, pts = deep.axis_points_lps(0.05)
    assert _segment_distance(pts, a, b).min() - canal["radius_mm"] - 3.65 < 0  # truth: it does enter
    assert deep_check.grade == "breach" and "sacral canal" in deep_check.neural
    assert deep_check.to_dict()["neural"] == deep_check.neural


def test_a_screw_through_a_foramen_is_a_neural_breach(phantom, phantom_bone):
    f = next(t for t in phantom[1]["nogo"] if t["name"] == "left S1 foramen")
    a, b = np.array(f["a_lps"]), np.array(f["b_lps"])
    centre = 0.5 * (a + b)
    lateral = np.array([1.0, 0.0, 0.0])
    screw = Screw("through S1 foramen", centre + 40.0 * lateral, centre - 8.0 * lateral, 6.5)
    check = check_screw(screw, phantom_bone)
    assert "left S1 foramen" in check.neural and check.grade == "breach"


def test_cement_near_a_foramen_is_a_leak_risk(phantom, phantom_bone):
    """2 mL injected 9 mm medial to the left S1 foramen's axis: its distance to the foramen (truth: the analytic
    tunnel against the simulated cement's voxels) is reported, and under the 3 mm leak margin it is a reason."""
    from PercutaneousOsteosynthesisLib.lesions.cement import simulate_cement

    ct, truth = phantom
    f = next(t for t in truth["nogo"] if t["name"] == "left S1 foramen")
    a, b = np.array(f["a_lps"]), np.array(f["b_lps"])
    point = 0.5 * (a + b) + np.array([-9.0, 0.0, 0.0])
    result = simulate_cement(ct, phantom_bone, point, 2.0)
    pts = phantom_bone.geometry.ijk_to_lps(np.argwhere(result.mask)[:, ::-1].astype(float))
    expected = max(0.0, _segment_distance(pts, a, b).min() - f["radius_mm"])
    reported = result.leak_risk["distances_mm"]["left S1 foramen"]
    assert reported == pytest.approx(expected, abs=1.0)
    kinds = [r["kind"] for r in result.leak_risk["reasons"]]
    assert ("left S1 foramen" in kinds) == (reported <= result.leak_risk["margin_mm"])
    assert result.leak_risk["not_assessed"] == []


def test_hip_joint_space_found_and_an_intra_articular_screw_is_a_breach(phantom, phantom_bone):
    """The phantom's hip joint: head radius 23 mm, 3 mm cartilage space, covered by the acetabular cup on the side
    away from its opening. Found as points in that shell; a screw along the cup's axis ending 6 mm above the space
    clears it by 6 - 3.65 mm; one ending in the space is an intra-articular breach (not a neural one)."""
    from PercutaneousOsteosynthesisLib.phantom.anatomy import HEAD_RADIUS_MM, HIP_JOINT_SPACE_MM

    lm = phantom[1]["landmarks"]
    for side, s in (("left", 1.0), ("right", -1.0)):
        centre = np.array(lm[f"femoral_head_center_{side}_lps"])
        opening = np.array([0.8 * s, -0.2, -0.55])
        opening /= np.linalg.norm(opening)
        joint = next(n for n in phantom_bone.nogo_structures() if n.name == f"{side} hip joint")
        d = joint.points_lps - centre
        rho = np.linalg.norm(d, axis=1)
        # between head and cup; at the cup's rounded rim the run to the bone is longer (up to the 6 mm searched)
        assert rho.min() >= HEAD_RADIUS_MM - 1.0 and np.percentile(rho, 95) <= HEAD_RADIUS_MM + HIP_JOINT_SPACE_MM + 1.0
        assert ((d / rho[:, None]) @ opening).max() < 0.3  # under the cup only (its rounded rim reaches 6 mm past the hemisphere)
        roof = -opening
        outer = HEAD_RADIUS_MM + HIP_JOINT_SPACE_MM
        near = check_screw(Screw("above", centre + 70 * roof, centre + (outer + 6.0) * roof, 7.3), phantom_bone)
        assert near.nogo_clearance_mm[f"{side} hip joint"] == pytest.approx(6.0 - 3.65, abs=0.8)
        into = check_screw(Screw("into", centre + 70 * roof, centre + (HEAD_RADIUS_MM + 1.5) * roof, 7.3), phantom_bone)
        assert into.grade == "breach" and into.articular == [f"{side} hip joint"] and into.neural == []


@pytest.mark.parametrize("side", ["left", "right"])
def test_greater_sciatic_notch_found_behind_each_acetabulum(anatomy, phantom_bone, side):
    """The notch is found in the soft tissue between the posterior column and the ischial spine, on its own side,
    with each point's distance to the bone (its half width) matching the analytic distance."""
    notch = next(n for n in phantom_bone.nogo_structures() if n.name == f"{side} greater sciatic notch")
    assert notch.kind == "neural"
    pts = notch.points_lps
    # the exact distance to the bone (the field of a blended bone is only a bound near its fillets; the sacroiliac
    # joints, the envelope's other part, are more than 13 mm from the notch)
    probe = np.vstack([pts, anatomy.landmarks[f"sciatic_notch_{side}_lps"]])
    distance = np.sign(anatomy.bone_sdf(probe)) * cKDTree(envelope_surface_samples(anatomy)).query(probe)[0]
    truth_sdf = distance[:-1]
    assert truth_sdf.min() > -0.5  # soft tissue, not bone (half a voxel)
    assert np.abs(truth_sdf - notch.half_widths_mm).max() < 1.2
    centre = anatomy.landmarks[f"sciatic_notch_{side}_lps"]
    assert distance[-1] > 8.0  # the truth point is deep in the notch ...
    assert np.linalg.norm(pts - centre, axis=1).min() < 1.5  # ... and inside the structure found
    head = anatomy.landmarks[f"femoral_head_center_{side}_lps"]
    sign = 1.0 if side == "left" else -1.0
    assert (sign * pts[:, 0] > 30.0).all()  # on its own side of the midline (LPS +x is the patient's left)
    assert pts[:, 1].mean() > head[1] + 30.0  # behind the acetabulum


@pytest.mark.parametrize("side", ["left", "right"])
def test_clearance_to_the_notch_and_a_screw_into_it(anatomy, phantom_bone, side):
    column = anatomy.part(f"{side} posterior column")
    along = check_screw(Screw("posterior column", column.b, column.a, 6.5), phantom_bone)
    # on the column's axis the notch's bony wall is the column's surface below: radius 10 minus the screw's 3.25
    assert along.nogo_clearance_mm[f"{side} greater sciatic notch"] == pytest.approx(10.0 - 3.25, abs=1.0)
    assert along.grade != "breach" and along.neural == []
    centre = anatomy.landmarks[f"sciatic_notch_{side}_lps"]
    into = check_screw(Screw("into the notch", column.b, centre, 6.5), phantom_bone)
    assert into.grade == "breach" and into.neural == [f"{side} greater sciatic notch"]
