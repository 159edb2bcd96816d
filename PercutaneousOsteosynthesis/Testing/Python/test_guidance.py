"""CT guidance parameters on synthetic CTs with identity, flipped and oblique grids."""

import math

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.screws.guidance import carm_angles_deg, carm_progress_lao_rao_deg, compute_guidance
from PercutaneousOsteosynthesisLib.screws.screw import Screw

R_BODY = 100.0  # body: cylinder x^2 + y^2 < R^2 (LPS), infinite along z
N, SP = 121, 2.0
TILT, INPLANE, LENGTH = 20.0, 60.0, 60.0
_t, _a = math.radians(TILT), math.radians(INPLANE)
# direction built from the definitions: 60 deg from the tilted vertical, in the axial plane tilted 20 deg about L-R
U = math.sin(_a) * np.array([1.0, 0, 0]) + math.cos(_a) * np.array([0.0, math.cos(_t), math.sin(_t)])
ENTRY = np.array([10.0, 20.0, 10.0])
POCKET_C, POCKET_R = ENTRY - 40.0 * U, 8.0  # a gas pocket on the way out that must not be taken for the skin


def _rotation(axis, deg):
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = math.radians(deg)
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * K @ K


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped_xy": np.diag([-1.0, -1.0, 1.0]),
    "flipped_yz": np.diag([1.0, -1.0, -1.0]),
    "oblique": _rotation([1, 2, 3], 25.0),
}


def _ct(direction, body_everywhere=False):
    """Cube of N^3 voxels centred on the LPS origin; HU ramps linearly across the skin, -300 HU exactly on it."""
    half = SP * (N - 1) / 2
    origin = -direction @ np.full(3, half)
    geo = ImageGeometry((N, N, N), (SP, SP, SP), tuple(origin), tuple(direction.ravel()))
    idx = np.arange(N) * SP
    a = direction  # columns = LPS axes of i, j, k
    x, y, z = (origin[c] + idx[None, None, :] * a[c, 0] + idx[None, :, None] * a[c, 1] + idx[:, None, None] * a[c, 2]
               for c in range(3))
    sd_body = np.sqrt(x * x + y * y) - R_BODY
    sd_pocket = np.sqrt((x - POCKET_C[0]) ** 2 + (y - POCKET_C[1]) ** 2 + (z - POCKET_C[2]) ** 2) - POCKET_R
    sd = np.maximum(sd_body, -sd_pocket)  # body minus pocket, > 0 outside
    if body_everywhere:
        sd = np.full_like(sd, -50.0)
    hu = np.clip(-300.0 - 80.0 * sd, -1000.0, 40.0).astype(np.float32)
    return CTVolume(hu, geo)


def _analytic_skin_t():
    # |(E - t U)_xy| = R, largest root
    e, u = ENTRY[:2], U[:2]
    qa, qb, qc = u @ u, -2 * e @ u, e @ e - R_BODY ** 2
    return (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)


@pytest.fixture(scope="module", params=list(DIRECTIONS))
def case(request):
    return request.param, _ct(DIRECTIONS[request.param])


SCREW = Screw("s", ENTRY, ENTRY + LENGTH * U, 7.3)


def test_skin_and_depths(case):
    name, ct = case
    g = compute_guidance(SCREW, ct)
    t = _analytic_skin_t()
    skin = ENTRY - t * U
    assert np.linalg.norm(g.skin_entry_lps - skin) < 0.5
    assert math.hypot(g.skin_entry_lps[0], g.skin_entry_lps[1]) == pytest.approx(R_BODY, abs=0.5)
    assert g.skin_to_bone_entry_mm == pytest.approx(t, abs=0.5)
    assert g.skin_to_tip_mm == pytest.approx(t + LENGTH, abs=0.5)
    # the scan plane through the skin (it contains L-R and is tilted by TILT) meets the isocentre line x = y = 0
    iso_z = skin[2] - skin[1] * math.tan(math.radians(TILT))
    assert g.table_position_mm == pytest.approx(iso_z, abs=0.5)
    ijk = ct.geometry.lps_to_ijk([0.0, 0.0, g.table_position_mm])
    assert abs(g.table_slice_index - ijk[2]) <= 0.5
    if name == "identity":
        assert g.table_slice_index == round((g.table_position_mm + SP * (N - 1) / 2) / SP)
    if name == "flipped_yz":
        assert g.table_slice_index == round((SP * (N - 1) / 2 - g.table_position_mm) / SP)


def test_angles(case):
    _, ct = case
    g = compute_guidance(SCREW, ct)
    assert g.gantry_tilt_deg == pytest.approx(TILT, abs=1e-9)
    assert g.inplane_angle_deg == pytest.approx(INPLANE, abs=1e-9)
    assert g.double_oblique is False
    assert compute_guidance(SCREW, ct, max_gantry_tilt_deg=15.0).double_oblique is True
    # beam from the C-arm angles is parallel to the screw and the detector is anterior (-y)
    cc, lao = math.radians(g.carm_cranio_caudal_deg), math.radians(g.carm_lao_rao_deg)
    beam = np.array([math.sin(lao) * math.cos(cc), -math.cos(lao) * math.cos(cc), math.sin(cc)])
    assert np.linalg.norm(np.cross(beam, U)) < 1e-9 and beam[1] <= 0
    d = g.to_dict()
    assert set(d) == {"skin_entry_lps", "skin_to_bone_entry_mm", "skin_to_tip_mm", "gantry_tilt_deg", "double_oblique",
                      "inplane_angle_deg", "table_position_mm", "table_slice_index", "carm_cranio_caudal_deg", "carm_lao_rao_deg",
                      "patient_position", "carm_progress_lao_rao_deg"}
    # progress view: beam perpendicular to the screw, no cranio-caudal tilt, detector anterior
    p = math.radians(g.carm_progress_lao_rao_deg)
    progress = np.array([math.sin(p), -math.cos(p), 0.0])
    assert abs(progress @ U) < 1e-9 and progress[1] <= 0


def test_grids_agree():
    ref = compute_guidance(SCREW, _ct(DIRECTIONS["identity"]))
    for name in ("flipped_xy", "oblique"):
        g = compute_guidance(SCREW, _ct(DIRECTIONS[name]))
        assert np.linalg.norm(g.skin_entry_lps - ref.skin_entry_lps) < 0.2, name
        assert g.gantry_tilt_deg == ref.gantry_tilt_deg and g.carm_lao_rao_deg == ref.carm_lao_rao_deg


@pytest.mark.parametrize("u, tilt, inplane", [
    ((0, 1, 0), 0.0, 0.0),                       # straight anterior to posterior
    ((0, -1, 0), 0.0, 180.0),                    # straight posterior to anterior: upward for a supine patient
    ((-1, 0, 0), 0.0, -90.0),                    # horizontal, tip toward patient right
    ((0, 1, 1), 45.0, 0.0),                      # tip cranial and posterior: the plane's table side cranial
    ((0, -1, -1), 45.0, 180.0),                  # the same line drawn the other way: the same plane and tilt
    ((1, 0, 1), 90.0, 45.0),                     # coronal oblique: needs 90 deg tilt
])
def test_angle_conventions(u, tilt, inplane):
    ct = _ct(DIRECTIONS["identity"])
    u = np.asarray(u, float) / np.linalg.norm(u)
    s = Screw("s", [0, 0, 0], 30 * u, 7.0)
    g = compute_guidance(s, ct)
    assert g.gantry_tilt_deg == pytest.approx(tilt, abs=1e-9)
    assert g.inplane_angle_deg == pytest.approx(inplane, abs=1e-9)
    assert g.double_oblique == (abs(tilt) > 30)


@pytest.mark.parametrize("u, cc, lao", [
    ((0, -1, 0), 0.0, 0.0),                      # AP beam
    ((0, 1, 0), 0.0, 0.0),                       # same line
    ((1, -1, 0), 0.0, 45.0),                     # detector anterior-left: LAO 45
    ((0, -math.cos(math.pi / 6), 0.5), 30.0, 0.0),   # detector toward the head: cranial 30
    ((-1, -1, math.sqrt(2)), 45.0, -45.0),      # RAO 45, cranial 45
    ((1, 1, -math.sqrt(2)), 45.0, -45.0),       # same line, other way
])
def test_carm_conventions(u, cc, lao):
    got_cc, got_lao = carm_angles_deg(u)
    assert got_cc == pytest.approx(cc, abs=1e-9) and got_lao == pytest.approx(lao, abs=1e-9)


def test_errors():
    ct = _ct(DIRECTIONS["identity"])
    with pytest.raises(PosteoInputError, match="outside the CT"):
        compute_guidance(Screw("s", [500, 0, 0], [520, 0, 0], 7.0), ct)
    with pytest.raises(PosteoInputError, match="border"):
        compute_guidance(SCREW, _ct(DIRECTIONS["identity"], body_everywhere=True))


@pytest.mark.parametrize("position", ["supine", "prone", "lateral-left", "lateral-right"])
def test_tilt_is_a_property_of_the_line_and_mirrors_flip_it(position):
    from PercutaneousOsteosynthesisLib.screws.guidance import gantry_tilt_deg

    rng = np.random.default_rng(5)
    for u in rng.normal(size=(50, 3)):
        assert gantry_tilt_deg(u, position) == pytest.approx(gantry_tilt_deg(-u, position), abs=1e-9)  # both ways
        mirrored = u * [1, 1, -1]  # reflected through an axial plane
        assert gantry_tilt_deg(mirrored, position) == pytest.approx(-gantry_tilt_deg(u, position), abs=1e-9)


def test_patient_position_changes_the_tilt_axis():
    from PercutaneousOsteosynthesisLib.screws.guidance import gantry_tilt_deg, inplane_angle_deg

    u = np.array([0.0, 1.0, 1.0])  # posterior and cranial (the table side of the plane is cranial when supine)
    assert gantry_tilt_deg(u, "supine") == pytest.approx(45.0) and gantry_tilt_deg(u, "prone") == pytest.approx(-45.0)
    assert inplane_angle_deg(u, "supine") == pytest.approx(0.0) and inplane_angle_deg(-u, "prone") == pytest.approx(0.0)
    # on the side the gantry tilts about the patient's A-P axis: a screw in a coronal plane needs no double oblique
    assert abs(gantry_tilt_deg([1.0, 0.0, 1.0], "lateral-right")) == pytest.approx(45.0)
    assert gantry_tilt_deg([1.0, 0.0, 1.0], "supine") == pytest.approx(90.0)
    with pytest.raises(PosteoInputError, match="patient position"):
        gantry_tilt_deg(u, "standing")


def test_patient_position_is_kept_in_the_plan_file(tmp_path):
    import json

    from PercutaneousOsteosynthesisLib.plan.markups import load_plan, plan_to_markups_json, save_plan
    from PercutaneousOsteosynthesisLib.plan.model import Plan

    plan = Plan("p", [Screw("s", [0, 0, 0], [0, 0, 50], 7.3)], patient_position="prone")
    assert load_plan(save_plan(plan, tmp_path / "p.mrk.json")).patient_position == "prone"
    doc = plan_to_markups_json(plan)
    for m in doc["markups"]:
        for cp in m["controlPoints"]:
            cp["description"] = cp["description"].replace(";position=prone", "")  # a plan from before the field
    (tmp_path / "old.mrk.json").write_text(json.dumps(doc))
    assert load_plan(tmp_path / "old.mrk.json").patient_position == "supine"
    for m in doc["markups"]:
        for cp in m["controlPoints"]:
            if "kind=plan" in cp["description"]:
                cp["description"] += ";position=standing"
    (tmp_path / "bad.mrk.json").write_text(json.dumps(doc))
    with pytest.raises(PosteoInputError, match="bad.mrk.json.*patient position"):
        load_plan(tmp_path / "bad.mrk.json")
    with pytest.raises(PosteoInputError, match="patient position"):
        Plan("p", patient_position="sitting")


@pytest.mark.parametrize("u, lao", [
    ((1, 0, 0), 0.0),                            # transverse (iliosacral-like) screw: AP progress view
    ((0, 1, 0), 90.0),                           # AP screw: lateral progress view (the tie is LAO)
    ((1, 1, 0), 45.0),                           # toward left-posterior: seen from left-anterior, LAO 45
    ((-1, -1, 0), 45.0),                         # same line, other way
    ((0.8, 0.15, -0.58), np.degrees(np.arctan2(0.15, 0.8))),  # femoral-neck-like: nearly AP, LAO 10.6
    ((0, 0, 1), 0.0),                            # along the body axis: AP
])
def test_carm_progress_view(u, lao):
    assert carm_progress_lao_rao_deg(u) == pytest.approx(lao, abs=1e-9)
