"""A pelvic ring whose sacroiliac joints the bone model bridged, split again at the joints (bone.ring_split): on the
elderly phantom at 2 mm against its exact shapes, on a fused phantom (no joint: no split), and on the real 1 mm CT."""

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.labels import JOINT
from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume, averaged_to_spacing
from PercutaneousOsteosynthesisLib.phantom.anatomy import build_anatomy
from PercutaneousOsteosynthesisLib.phantom.ct import HU, make_phantom
from PercutaneousOsteosynthesisLib.phantom.shapes import union_sdf


def _voxels_lps(bone, mask):
    return bone.geometry.ijk_to_lps(np.argwhere(mask)[:, ::-1].astype(float))


def test_elderly_pelvis_at_2_mm_is_split_at_its_sacroiliac_joints():
    """The elderly phantom (1 mm cortex, 90 HU cancellous bone) averaged to 2 mm on an oblique grid: its 3 mm
    sacroiliac gaps blur above the bone threshold and the closing joins sacrum and ilia into one ring. Split again,
    the sacrum and both hip bones are named and sided, the crossable joint lies in the true joint gap, and each bone
    is the true bone."""
    anatomy = build_anatomy()
    ct1, truth = make_phantom(spacing=1.0, direction="oblique", preset="elderly")
    bone = build_bone_model(averaged_to_spacing(ct1, 2.0))
    names = {c["name"]: c for c in bone.components}
    assert {"sacrum", "left hip bone", "right hip bone", "left femur", "right femur"} <= set(names)
    assert names["left hip bone"]["centroid_lps"][0] > 0 > names["right hip bone"]["centroid_lps"][0]  # LPS +x: left
    joint = _voxels_lps(bone, bone.labels == JOINT)
    assert len(joint) * bone.geometry.voxel_volume_mm3 > 2000.0
    # the crossable joint: in the true gap (3 mm wide) within a working voxel and the 2 mm scan's blur
    assert np.mean(union_sdf(anatomy.joints, joint) < 2.0) > 0.9
    sacrum_shape = [anatomy.part("sacrum")]
    sacrum = _voxels_lps(bone, bone.component_labels == names["sacrum"]["label"])
    assert np.mean(union_sdf(sacrum_shape, sacrum) < 2.0) > 0.95
    for side in ("left", "right"):
        hip = _voxels_lps(bone, bone.component_labels == names[f"{side} hip bone"]["label"])
        assert np.mean(union_sdf(sacrum_shape, hip) > 0.0) > 0.98, side
    # the iliosacral S1 path crosses the joint: still safe, through crossable joint voxels
    path = next(p for p in truth["screw_paths"] if "iliosacral" in p["name"])
    t = np.linspace(0.0, 1.0, 200)[:, None]
    along = np.array(path["entry_lps"]) + t * (np.array(path["tip_lps"]) - np.array(path["entry_lps"]))
    assert (bone.label_at_lps(along) == JOINT).any()
    assert bone.signed_distance_lps(along).max() < 0.0


def test_fused_sacroiliac_joints_are_not_split():
    """The default phantom with both sacroiliac gaps and the cortical plates along them replaced by cancellous bone
    (an ankylosed joint): one pelvic ring, no crossable joint invented."""
    anatomy = build_anatomy()
    ct, _ = make_phantom(spacing=1.5, direction="oblique")
    a = ct.array.copy()
    g = ct.geometry
    for shape in anatomy.joints:
        lo, hi = shape.center - 40.0, shape.center + 40.0
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        ijk = g.lps_to_ijk(corners)
        box = [slice(max(0, int(np.floor(ijk[:, d].min()))), int(np.ceil(ijk[:, d].max())) + 1) for d in (2, 1, 0)]
        kji = np.argwhere(np.ones(a[tuple(box)].shape, bool)) + [b.start for b in box]
        p = g.ijk_to_lps(kji[:, ::-1].astype(float))
        fuse = (union_sdf([shape], p) < 2.5) & (anatomy.envelope_sdf(p) < 0.0)
        a[tuple(kji[fuse].T)] = HU["cancellous"]
    bone = build_bone_model(CTVolume(a, g, "fused.nii.gz"))
    names = {c["name"] for c in bone.components}
    assert "sacrum" not in names and any("pelvic ring" in n for n in names)
    assert bone.volumes_ml()["sacroiliac_joint"] == 0.0


def test_real_pelvis_is_split_at_its_sacroiliac_joints(real_bone_1mm):
    """The Visible Human pelvis at 1 mm: its sacrum (with the lumbar vertebrae above it) and hip bones were one
    piece. Split at the joints: sacrum on the midline behind, the hip bones sided, and each joint where the anatomy
    has it: 30-70 mm from the midline, in the back of the pelvis, about as large as an auricular surface."""
    bone = real_bone_1mm
    names = {c["name"]: c for c in bone.components}
    assert {"sacrum", "left hip bone", "right hip bone"} <= set(names)
    mid = 0.5 * (names["left hip bone"]["bounds_lps"][1][0] + names["right hip bone"]["bounds_lps"][0][0])
    assert abs(names["sacrum"]["centroid_lps"][0] - mid) < 10.0
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = names[f"{side} hip bone"]
        assert sign * (hip["centroid_lps"][0] - mid) > 60.0
        assert 150.0 < hip["volume_ml"] < 400.0
        joint = _voxels_lps(bone, bone.labels == JOINT)
        joint = joint[sign * (joint[:, 0] - mid) > 0]
        lateral = sign * (joint[:, 0] - mid)
        assert 30.0 < np.median(lateral) < 70.0, side
        assert np.median(joint[:, 1]) > hip["centroid_lps"][1]  # behind the hip bone's centre (LPS +y: posterior)
        assert 3.0 < len(joint) * bone.geometry.voxel_volume_mm3 / 1000.0 < 20.0, side
    assert 100.0 < names["sacrum"]["volume_ml"] < 400.0


@pytest.mark.parametrize("spacing", [2.0])
def test_a_blurred_real_joint_is_not_guessed(real_ct_1mm, spacing):
    """The same real CT averaged to 2 mm: the joints blur too much to follow (a cut found there ran through the
    posterior ilium), so the ring is kept whole rather than split in the wrong place."""
    bone = build_bone_model(averaged_to_spacing(real_ct_1mm, spacing))
    names = {c["name"] for c in bone.components}
    assert "sacrum" not in names and any("pelvic ring" in n for n in names)


def test_real_sacral_canal_is_a_no_go_structure(real_bone_1mm):
    """On the real 1 mm CT the sacral canal, the foramina opening from it and the lumbar canal above form one network
    of soft tissue whose wall is largely openings: kept whole as the sacral canal, a no-go structure. A screw drawn
    across the midline through the canal at S2 (the midline voxels there read -95 to 16 HU in the CT) enters it."""
    from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
    from PercutaneousOsteosynthesisLib.screws.screw import Screw

    canal = next(n for n in real_bone_1mm.nogo_structures() if n.name == "sacral canal")
    assert len(canal.points_lps) * real_bone_1mm.geometry.voxel_volume_mm3 / 1000.0 > 10.0
    assert np.ptp(canal.points_lps[:, 2]) > 60.0  # from the lower sacrum up into the lumbar canal
    check = check_screw(Screw("through the canal", (236.0, 346.0, 458.0), (286.0, 346.0, 458.0), 6.5), real_bone_1mm)
    assert check.grade == "breach" and "sacral canal" in check.neural
