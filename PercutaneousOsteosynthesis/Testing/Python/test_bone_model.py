"""Bone model against the phantom's analytic truth, orientation invariance, the real CT, and bad input."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from PercutaneousOsteosynthesisLib.bone.model import JOINT, BoneParameters, build_bone_model
from PercutaneousOsteosynthesisLib.cli.main import main
from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.phantom.anatomy import HEAD_RADIUS_MM, HIP_JOINT_SPACE_MM
from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom
from PercutaneousOsteosynthesisLib.phantom.shapes import union_sdf


def test_volumes_match_truth(phantom, phantom_bone):
    _, truth = phantom
    v = phantom_bone.volumes_ml()
    assert v["bone"] == pytest.approx(truth["bone_volume_ml"], rel=0.03)
    assert v["cortex"] == pytest.approx(truth["cortex_volume_ml"], rel=0.10)
    assert v["metal"] == pytest.approx(truth["metal_volume_ml"], rel=0.35)  # a 6.5 mm rod at 1 mm voxels, blurred


def _random_points_near_surface(anatomy, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = anatomy.bounds()
    p = lo + rng.random((300_000, 3)) * (hi - lo)
    t = anatomy.envelope_sdf(p)
    # the sacral tunnels are no-go structures of their own (bone.nogo, test_nogo.py), not part of the envelope's field
    # (and no point whose nearest surface is a tunnel's wall: the field is the envelope's without them)
    keep = (np.abs(t) < 15) & anatomy.exact_mask(p) & (union_sdf(anatomy.joints, p) > 10)
    keep &= union_sdf(anatomy.nogo, p) > np.maximum(10.0, np.abs(t) + 2.0)
    # the hip joint spaces have their own test (test_sacroiliac_joint_is_crossable_hip_joint_is_not)
    for side in ("left", "right"):
        head = anatomy.landmarks[f"femoral_head_center_{side}_lps"]
        keep &= np.abs(np.linalg.norm(p - head, axis=1) - HEAD_RADIUS_MM - 0.5 * HIP_JOINT_SPACE_MM) > 0.5 * HIP_JOINT_SPACE_MM + 1.0
    broken = [l for l in anatomy.lesions if l.breaks_cortex][0]
    keep &= np.linalg.norm(p - broken.center, axis=1) > broken.radius + 8
    return p[keep][:n], t[keep][:n]


def test_signed_distance_matches_analytic_truth(phantom_bone, anatomy):
    p, t = _random_points_near_surface(anatomy)
    assert len(p) == 1000
    err = np.abs(phantom_bone.signed_distance_lps(p) - t)
    print(f"SDF error at 1000 points: mean {err.mean():.3f}, p99 {np.percentile(err, 99):.3f}, max {err.max():.3f} mm")
    assert np.mean(err <= 0.5) >= 0.99
    assert err.max() <= 1.0
    assert np.all(np.sign(phantom_bone.signed_distance_lps(p[np.abs(t) > 1])) == np.sign(t[np.abs(t) > 1]))


def test_sacroiliac_joint_is_crossable_hip_joint_is_not(phantom, phantom_bone, anatomy):
    _, truth = phantom
    lm = truth["landmarks"]
    for side in ("left", "right"):
        si = np.array(lm[f"si_joint_center_{side}_lps"])
        assert anatomy.bone_sdf(si[None])[0] > 0  # the gap itself is not bone
        assert phantom_bone.signed_distance_lps(si[None])[0] < -5.0  # ...but crossable: deep inside the envelope
        assert phantom_bone.label_at_lps(si[None])[0] == JOINT
        head = np.array(lm[f"femoral_head_center_{side}_lps"])
        superior_joint_space = head + np.array([0, 0, 23.0 + 1.5])  # middle of the 3 mm hip joint space above the head
        assert anatomy.bone_sdf(superior_joint_space[None])[0] > 0
        assert phantom_bone.signed_distance_lps(superior_joint_space[None])[0] > 0  # a breach
        # the whole joint space: none of it is bone (the slice fill of the right hip bone, where its cup and the rami
        # enclose the joint space in two orientations, closed 28 voxels over the dome, 0.03 mL, until what a fill adds
        # facing another bone within a joint's gap was left out: bone.envelope.fill_component)
        g = phantom_bone.geometry
        kji = np.argwhere(phantom_bone.labels > 0)
        pts = g.ijk_to_lps(kji[:, ::-1].astype(float))
        shell = np.abs(np.linalg.norm(pts - head, axis=1) - 23.0 - 1.5) < 1.0
        in_space = anatomy.envelope_sdf(pts[shell]) > 0.5
        assert in_space.sum() * g.voxel_volume_mm3 / 1000.0 <= 0.005, side


def test_component_names_and_sides(phantom_bone):
    names = {c["name"]: c for c in phantom_bone.components}
    assert {"sacrum", "left hip bone", "right hip bone", "left femur", "right femur"} <= set(names)
    assert names["left hip bone"]["centroid_lps"][0] > 0 > names["right hip bone"]["centroid_lps"][0]  # LPS: +x is left


@pytest.mark.parametrize("direction", ["identity", "flipped", "oblique"])
def test_orientation_invariance(direction, anatomy):
    """The same anatomy on identity, flipped and oblique grids gives the same LPS results (within half a voxel)."""
    spacing = 1.5
    ct, truth = make_phantom(spacing=spacing, direction=direction)
    model = build_bone_model(ct)
    v = model.volumes_ml()
    assert v["bone"] == pytest.approx(truth["bone_volume_ml"], rel=0.05)
    p, t = _random_points_near_surface(anatomy, n=300, seed=1)
    err = np.abs(model.signed_distance_lps(p) - t)
    assert np.median(err) < 0.5 * spacing
    left = next(c for c in model.components if c["name"] == "left hip bone")
    assert left["centroid_lps"][0] > 50


def test_osteoporotic_bone_gives_closed_envelope(phantom_bone):
    """Thin cortex and ~100 HU cancellous bone (below the bone threshold): every bone is still closed and filled,
    including the right hip bone whose cortex a lytic lesion breaks through (only the lesion near its defect is
    left out, until the lesion is segmented)."""
    ct, truth = make_phantom(spacing=1.0, direction="oblique", osteoporotic=True)
    model = build_bone_model(ct)
    assert model.volumes_ml()["bone"] == pytest.approx(truth["bone_volume_ml"], rel=0.03)
    normal = {c["name"]: c["volume_ml"] for c in phantom_bone.components}
    thin = {c["name"]: c["volume_ml"] for c in model.components}
    for name in ("sacrum", "left hip bone", "left femur", "right femur"):
        assert thin[name] == pytest.approx(normal[name], rel=0.05), name
    assert thin["right hip bone"] == pytest.approx(normal["right hip bone"], rel=0.10)
    for side in ("left", "right"):
        head = np.array(truth["landmarks"][f"femoral_head_center_{side}_lps"])
        assert model.signed_distance_lps(head[None])[0] < -15  # the low-density interior is inside the envelope
        joint_space = head + np.array([0, 0, 23.0 + 1.5])
        assert model.signed_distance_lps(joint_space[None])[0] > 0  # the hip joint stays open


def test_real_ct_envelope(real_ct_2mm, real_bone_2mm):
    import vtk

    v = real_bone_2mm.volumes_ml()
    print("real CT volumes (mL):", {k: round(x, 1) for k, x in v.items()}, [c["name"] for c in real_bone_2mm.components])
    assert 500 < v["bone"] < 1500
    # filled: most of the envelope is below the cortical threshold (marrow), not a hollow shell
    env = real_bone_2mm.envelope
    assert v["cancellous"] > v["cortex"]
    # closed surface: no boundary edges
    fe = vtk.vtkFeatureEdges()
    fe.SetInputData(real_bone_2mm.surface_polydata_lps())
    fe.BoundaryEdgesOn()
    fe.NonManifoldEdgesOff()
    fe.FeatureEdgesOff()
    fe.ManifoldEdgesOff()
    fe.Update()
    assert fe.GetOutput().GetNumberOfCells() == 0
    assert env.sum() > 0


def test_bad_parameters():
    with pytest.raises(PosteoInputError, match="bone < cortex < metal"):
        BoneParameters(bone_threshold_hu=700, cortex_threshold_hu=600).validate()


def _write(path, array, spacing=(1.0, 1.0, 1.0)):
    img = sitk.GetImageFromArray(array)
    if img.GetDimension() == 3:
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _bad_inputs(tmp):
    rng = np.random.default_rng(0)
    body = np.full((20, 30, 30), -1000, np.int16)
    body[:, 5:25, 5:25] = 40
    cases = {"missing": (tmp / "nope.nrrd", "file not found")}
    corrupt = tmp / "corrupt.nrrd"
    corrupt.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10\n\x00\x01garbage")
    cases["corrupt"] = (corrupt, "corrupt")
    cases["2d"] = (_write(tmp / "flat.nrrd", body[0]), "2D image")
    img4 = sitk.Image([8, 8, 8, 3], sitk.sitkInt16)
    sitk.WriteImage(img4, str(tmp / "four.nrrd"))
    cases["4d"] = (tmp / "four.nrrd", "4 dimensions")
    cases["mr"] = (_write(tmp / "mr.nrrd", rng.integers(0, 1000, (20, 30, 30)).astype(np.int16)), "Hounsfield")
    zero = tmp / "zero.nrrd"
    zero.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 6 5 4\n"
                     b"spacings: 0 1 1\nendian: little\nencoding: raw\n\n" + bytes(6 * 5 * 4 * 2))
    cases["zero spacing"] = (zero, "zero voxel spacing")
    cases["no bone"] = (_write(tmp / "nobone.nrrd", body), "no bone")
    return cases


def test_bad_input_cli_exit_2_and_no_partial_output(tmp_path, capsys):
    for label, (path, words) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out_{label.replace(' ', '_')}"
        code = main(["-q", "bone", str(path), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, label
        assert str(path) in err and words.lower() in err.lower(), (label, err)
        assert not out.exists() or not any(out.iterdir()), label


def test_cli_bone_outputs_open_in_slicer_reader(tmp_path):
    from PercutaneousOsteosynthesisLib.fileio.segmentation import read_segmentation
    from PercutaneousOsteosynthesisLib.phantom.ct import write_phantom

    ct_path, _ = write_phantom(tmp_path / "ph.nrrd", spacing=2.0, direction="oblique")
    assert main(["-q", "bone", str(ct_path), "--out", str(tmp_path / "b")]) == 0
    summary = json.loads((tmp_path / "b" / "bone.json").read_text())
    assert summary["coordinate_system"] == "LPS" and len(summary["input"]["sha256"]) == 64
    segs = read_segmentation(tmp_path / "b" / "bone.seg.nrrd")  # Slicer's own reader
    assert {"bone", "cortex", "cancellous", "metal", "sacroiliac joint"} <= set(segs)
    mask, geo = segs["cortex"]
    vox_ml = np.prod(geo.spacing) / 1000
    assert mask.sum() * vox_ml == pytest.approx(summary["volumes_ml"]["cortex"], rel=1e-6)
    # a cortex voxel read back by Slicer's reader lies in cortex according to the CT's HU
    from PercutaneousOsteosynthesisLib.fileio.volume import read_ct
    from PercutaneousOsteosynthesisLib.geometry.sampling import VolumeSampler

    ct = read_ct(ct_path)
    kji = np.argwhere(mask)[::500]
    hu = VolumeSampler(ct.array, ct.geometry)(geo.ijk_to_lps(kji[:, ::-1].astype(float)))
    assert np.median(hu) > 600


def test_surface_with_the_model_or_on_demand():
    """The surface computed while the distance field is (the default) is the one computed on the first call."""
    from vtk.util.numpy_support import vtk_to_numpy

    from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
    from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry

    k, j, i = np.mgrid[:48, :48, :48]
    hu = np.where((i - 24.0) ** 2 + (j - 23.5) ** 2 + (k - 24.5) ** 2 <= 15.0 ** 2, 1200.0, -50.0).astype(np.float32)
    ct = CTVolume(hu, ImageGeometry((48, 48, 48), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    eager, lazy = build_bone_model(ct), build_bone_model(ct, with_surface=False)
    assert eager._surface is not None and lazy._surface is None
    a, b = eager.surface_polydata_lps(), lazy.surface_polydata_lps()
    assert a.GetNumberOfPolys() > 0 and a.GetNumberOfPolys() == b.GetNumberOfPolys()
    assert np.array_equal(vtk_to_numpy(a.GetPoints().GetData()), vtk_to_numpy(b.GetPoints().GetData()))
