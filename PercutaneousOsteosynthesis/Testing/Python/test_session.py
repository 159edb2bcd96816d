"""PlanningSession in a real vtkMRMLScene (slicer-core wheel): nodes in one folder, RAS/LPS, live drag feedback,
export/import, removal -- checked against the phantom's analytic truth."""

import json
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
import slicer

from PercutaneousOsteosynthesisLib.fileio.nodes import volume_node_from_ct
from PercutaneousOsteosynthesisLib.fileio.scene import prepare_scene
from PercutaneousOsteosynthesisLib.palette import GRADE_RGB as GRADE_COLOURS
from PercutaneousOsteosynthesisLib.session.planning import PlanningSession

EXAMPLE = Path(__file__).with_name("scripting_example.py")


def _path(truth, prefix):
    return next(p for p in truth["screw_paths"] if p["name"].startswith(prefix))


def _truth_grade(min_clearance_mm, margin_mm=1.0):
    return "excellent" if min_clearance_mm >= margin_mm else ("acceptable" if min_clearance_mm >= 0 else "breach")


def _node_ids(scene):
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


@pytest.fixture
def session(phantom, phantom_bone):
    """A session on a fresh scene holding the phantom CT and its (session-wide) bone model."""
    scene = prepare_scene()
    s = PlanningSession(scene)
    s.set_ct(volume_node_from_ct(phantom[0], scene, "phantom"))
    s.set_bone_model(phantom_bone)
    yield s
    s.close()


def test_scripting_example(phantom):
    ns = runpy.run_path(str(EXAMPLE), run_name="__example__")
    try:
        truth_path = _path(phantom[1], "left femoral neck")
        checks = ns["checks"]
        assert checks["grade"] == _truth_grade(truth_path["min_clearance_mm"])
        assert abs(checks["min_clearance_mm"] - truth_path["min_clearance_mm"]) <= 0.5
        out = Path(ns["out_dir"])
        report = json.loads((out / "report.json").read_text())
        (entry,) = report["screws"]
        assert entry["name"] == "left neck" and entry["grade"] == checks["grade"]
        assert {c.label for c in ns["corridors"] if c.found} >= {"left femoral neck", "right femoral neck"}
        assert np.allclose(entry["entry_lps"], truth_path["entry_lps"], atol=1e-6)
        assert np.allclose(entry["tip_lps"], truth_path["tip_lps"], atol=1e-6)
        for name in ("plan.mrk.json", "plan.seg.nrrd", "screws/left_neck.vtk", "screws/left_neck.stl"):
            assert (out / name).is_file(), name
        # Slicer's own markups reader sees the screw at the truth points (RAS = LPS with x, y negated)
        scene = prepare_scene()
        logic = slicer.vtkSlicerMarkupsLogic()
        logic.SetMRMLScene(scene)
        assert logic.LoadMarkups(str(out / "plan.mrk.json"), "plan")
        lines = [scene.GetNthNodeByClass(i, "vtkMRMLMarkupsLineNode")
                 for i in range(scene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode"))]
        assert len(lines) == 1
        assert np.allclose(lines[0].GetNthControlPointPositionWorld(1), np.array(truth_path["tip_lps"]) * [-1, -1, 1], atol=1e-4)
    finally:
        ns["session"].remove()
        ns["session"].close()
        shutil.rmtree(ns["out_dir"], ignore_errors=True)


def test_ras_control_points_and_model(session, phantom):
    p = _path(phantom[1], "left femoral neck")
    line = session.add_screw("neck", p["entry_lps"], p["tip_lps"])
    assert line.IsA("vtkMRMLMarkupsLineNode")
    assert [line.GetNthControlPointLabel(i) for i in range(2)] == ["entry", "tip"]
    assert np.allclose(line.GetNthControlPointPositionWorld(0), np.array(p["entry_lps"]) * [-1, -1, 1])
    assert np.allclose(line.GetNthControlPointPositionWorld(1), np.array(p["tip_lps"]) * [-1, -1, 1])
    entry, tip = session.screw_points_lps("neck")
    assert np.allclose(entry, p["entry_lps"]) and np.allclose(tip, p["tip_lps"])
    model = session.model_node("neck")
    assert model.GetNodeReference("PercutaneousOsteosynthesis.ScrewLine") is line
    # the model's axis (its points' mean, up to the head) runs through the RAS midpoint of the screw
    from vtk.util.numpy_support import vtk_to_numpy

    pts = vtk_to_numpy(model.GetPolyData().GetPoints().GetData())
    mid_ras = 0.5 * (np.array(p["entry_lps"]) + np.array(p["tip_lps"])) * [-1, -1, 1]
    u_ras = (np.array(p["tip_lps"]) - np.array(p["entry_lps"])) * [-1, -1, 1]
    u_ras /= np.linalg.norm(u_ras)
    off = pts - mid_ras
    radial = np.linalg.norm(off - np.outer(off @ u_ras, u_ras), axis=1)
    assert radial.max() <= 0.5 * 1.6 * p["diameter_mm"] + 1e-6  # within the head's radius of the RAS axis
    assert session.grade("neck") == _truth_grade(p["min_clearance_mm"])
    assert session.model_colour("neck") == pytest.approx(GRADE_COLOURS[session.grade("neck")])
    plan = session.plan()
    assert np.allclose(plan.screws[0].tip_lps, p["tip_lps"])


def test_drag_tip_into_breach_and_back(session, phantom, anatomy):
    p = _path(phantom[1], "left femoral neck")
    entry, tip = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    line = session.add_screw("neck", entry, tip)
    session.observe_screw("neck")
    assert session.grade("neck") == "excellent" == _truth_grade(p["min_clearance_mm"])
    # drag the tip 40 mm further along the neck axis: through the femoral head into the hip joint
    u = (tip - entry) / np.linalg.norm(tip - entry)
    far = tip + 40.0 * u
    s = np.arange(10.0, np.linalg.norm(far - entry), 0.1)  # beyond the entry zone
    truth_min = float(np.min(-anatomy.envelope_sdf(entry + s[:, None] * u) - p["diameter_mm"] / 2))
    assert _truth_grade(truth_min) == "breach"
    session.throttle_ms = 0.0
    line.SetNthControlPointPositionWorld(1, *(far * [-1, -1, 1]))  # what the mouse drag does (RAS)
    assert session.grade("neck") == "breach"
    assert session.model_colour("neck") == pytest.approx(GRADE_COLOURS["breach"])
    # throttled: a move right after an update is deferred, then processed at the end of the interaction
    session.throttle_ms = 1e7
    line.SetNthControlPointPositionWorld(1, *(tip * [-1, -1, 1]))
    assert session.pending() == ["neck"] and session.grade("neck") == "breach"
    line.InvokeEvent(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)
    assert session.pending() == []
    assert session.grade("neck") == "excellent"
    assert session.model_colour("neck") == pytest.approx(GRADE_COLOURS["excellent"])
    # flush() processes a deferred move too
    line.SetNthControlPointPositionWorld(1, *(far * [-1, -1, 1]))
    session.flush()
    assert session.grade("neck") == "breach"
    assert session.timed_drag_update("neck") > 0.0


def test_unsafe_truth_paths_are_red(session, phantom):
    for p in phantom[1]["screw_paths"]:
        name = p["name"].split(" (")[0]
        session.add_screw(name, p["entry_lps"], p["tip_lps"], diameter_mm=p["diameter_mm"])
        assert (session.grade(name) == "breach") == (not p["safe"]), name
        assert (session.model_colour(name) == pytest.approx(GRADE_COLOURS["breach"])) == (not p["safe"]), name
    assert set(session.screw_names()) == {p["name"].split(" (")[0] for p in phantom[1]["screw_paths"]}


def test_remove_and_scene_close_leave_nothing(phantom, phantom_bone):
    scene = prepare_scene()
    before = _node_ids(scene)
    s = PlanningSession(scene)
    s.set_ct(volume_node_from_ct(phantom[0], scene, "user CT"))  # the user's node: not the session's
    user_ct = s.ct_node.GetID()
    s.set_bone_model(phantom_bone)
    p = _path(phantom[1], "left femoral neck")
    s.add_screw("neck", p["entry_lps"], p["tip_lps"])
    s.observe_screw("neck")
    les = phantom[1]["lesions"][0]
    s.add_lesion("lesion", les["center_lps"])
    s.add_cement("cement", les["center_lps"], 1.0)
    assert len(s.nodes()) >= 6
    s.remove()
    left = _node_ids(scene) - before
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene).GetID()
    user = {user_ct, *(scene.GetNodeByID(user_ct).GetNthDisplayNodeID(i) for i in range(scene.GetNodeByID(user_ct).GetNumberOfDisplayNodes()))}
    assert left - {sh} - user == set()
    assert s.observed_screws() == []
    # closing the scene: no observer or cached node is left behind
    s.set_ct(scene.GetNodeByID(user_ct))
    s.set_bone_model(phantom_bone)
    s.add_screw("neck", p["entry_lps"], p["tip_lps"])
    s.observe_screw("neck")
    scene.Clear(0)
    assert s.observed_screws() == [] and s.bone is None and s.ct_node is None and s.nodes() == []
    s.close()


def test_lesion_and_cement(session, phantom):
    les = phantom[1]["lesions"][0]
    info = session.add_lesion(les["name"], les["center_lps"], pain="moderate")
    assert info["volume_ml"] == pytest.approx(les["volume_ml"], rel=0.15)
    assert info["cortical_breakthrough"] == les["breaks_cortex"]
    assert info["pain"] == "moderate"
    seg = session.plan_segmentation_node().GetSegmentation()
    assert seg.GetSegmentIdBySegmentName(les["name"])
    cem = session.add_cement("cement 1", les["center_lps"], 1.5)
    assert cem["volume_ml"] == pytest.approx(1.5, abs=0.01)
    assert seg.GetSegmentIdBySegmentName("cement 1")
    plan = session.plan()
    assert [x.name for x in plan.lesions] == [les["name"]] and plan.lesions[0].pain == "moderate"
    assert np.allclose(plan.lesions[0].seed_lps, les["center_lps"])
    assert plan.cement[0].volume_ml == 1.5 and np.allclose(plan.cement[0].point_lps, les["center_lps"])


def test_export_then_import_rebuilds_the_same_screws(session, phantom, phantom_bone, tmp_path):
    truth = phantom[1]
    neck, hip = _path(truth, "left femoral neck"), _path(truth, "left supra-acetabular")
    session.margin_mm = 1.5
    session.add_screw("neck", neck["entry_lps"], neck["tip_lps"])
    session.add_screw("hip", hip["entry_lps"], hip["tip_lps"], diameter_mm=hip["diameter_mm"])
    les = truth["lesions"][0]
    session.add_lesion("lesion A", les["center_lps"], pain="mild")
    files = session.export(tmp_path)
    assert {"plan", "report", "segmentation", "screws"} <= set(files)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [s["grade"] for s in report["screws"]] == ["excellent", "breach"]
    assert report["lesions"][0]["name"] == "lesion A"
    from PercutaneousOsteosynthesisLib.fileio.segmentation import read_segmentation

    assert "lesion A" in str(read_segmentation(tmp_path / "plan.seg.nrrd"))

    scene = prepare_scene()
    other = PlanningSession(scene)
    other.set_ct(volume_node_from_ct(phantom[0], scene, "phantom"))
    other.set_bone_model(phantom_bone)
    names = other.import_plan(tmp_path / "plan.mrk.json")
    assert names == ["neck", "hip"] and other.screw_names() == ["neck", "hip"]
    assert other.margin_mm == 1.5
    for name, p in (("neck", neck), ("hip", hip)):
        a, b = session.screw(name), other.screw(name)
        assert np.allclose(b.entry_lps, p["entry_lps"], atol=1e-6) and np.allclose(b.tip_lps, p["tip_lps"], atol=1e-6)
        assert (b.implant_id, b.diameter_mm, b.thread_length_mm) == (a.implant_id, a.diameter_mm, a.thread_length_mm)
        assert other.grade(name) == session.grade(name)
        assert other.model_node(name) is not None
    assert other.lesion_names() == ["lesion A"]
    # the markups loaded from the file became the session's screw nodes: no stray markups left
    lines = scene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode")
    assert lines == 2
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode") == 1  # the lesion seeds
    other.remove()
    other.close()


def test_suggest_and_accept(session, phantom, anatomy):
    hip = _path(phantom[1], "left supra-acetabular")
    session.add_screw("hip", hip["entry_lps"], hip["tip_lps"], diameter_mm=hip["diameter_mm"])
    assert session.grade("hip") == "breach"
    found = session.suggest("hip", n_best=3)
    assert found, "no suggestion"
    result = session.accept_suggestion("hip", 0)
    assert result["grade"] != "breach" and session.grade("hip") == result["grade"]
    entry, tip = session.screw_points_lps("hip")
    assert np.allclose(entry, found[0]["entry_lps"]) and np.allclose(tip, found[0]["tip_lps"])
    # independent check of the accepted path: the analytic envelope keeps the screw inside bone past the entry zone
    u = (tip - entry) / np.linalg.norm(tip - entry)
    s = np.arange(10.0, np.linalg.norm(tip - entry), 0.1)
    assert float(np.min(-anatomy.envelope_sdf(entry + s[:, None] * u) - hip["diameter_mm"] / 2)) > -0.5
    from PercutaneousOsteosynthesisLib.errors import PosteoInputError

    with pytest.raises(PosteoInputError):
        session.accept_suggestion("hip", 99)


def test_probe_plane_follows_the_screw(session, phantom):
    p = _path(phantom[1], "left femoral neck")
    session.add_screw("neck", p["entry_lps"], p["tip_lps"])
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    normal, transverse, point = session.probe_plane_ras("neck", 1.0)
    assert np.allclose(normal, (t - e) / np.linalg.norm(t - e) * [-1, -1, 1])
    assert abs(float(normal @ transverse)) < 1e-9 and np.isclose(np.linalg.norm(transverse), 1.0)
    assert np.allclose(point, t * [-1, -1, 1])
    _, _, start = session.probe_plane_ras("neck", 0.0, from_skin=False)
    assert np.allclose(start, e * [-1, -1, 1])
    _, _, skin = session.probe_plane_ras("neck", 0.0)
    # the skin lies outside the body contour, on the screw's line before the entry
    skin_lps = skin * [-1, -1, 1]
    assert np.linalg.norm(np.cross(skin_lps - e, t - e)) / np.linalg.norm(t - e) < 1e-6
    assert (skin_lps - e) @ (t - e) <= 0


def test_gui_screw_with_femoral_neck_role_gets_neck_metrics(session, phantom, tmp_path):
    """Screws placed as in the GUI ("Screw 3", "Screw 4") get the femoral-neck metrics once their role says so;
    the role survives export and import through Slicer's markups reader."""
    lm = phantom[1]["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])
    up = np.cross(n, np.cross([0, 0, 1.0], n))
    up /= np.linalg.norm(up)
    for i, o in ((3, 4 * up), (4, -4 * up)):
        session.add_screw(f"Screw {i}", h + 55 * n + o, h - 10 * n + o, "CS-7.3-T16-060")
    assert session.femoral_neck_metrics() == []  # role "other": no neck metrics, whatever the geometry
    for name in ("Screw 3", "Screw 4"):
        session.set_role(name, "femoral neck")
    (m,) = session.femoral_neck_metrics()
    apex = h - lm["femoral_head_radius_mm"] * n
    assert m["side"] == "left" and m["screws"] == ["Screw 3", "Screw 4"]
    for name in m["screws"]:
        tip = session.screw(name).tip_lps
        assert m["tip_apex"][name]["tip_apex_3d_mm"] == pytest.approx(np.linalg.norm(tip - apex), abs=1.2)
    files = session.export(tmp_path / "out")
    report = json.loads(files["report"].read_text())
    assert [s["role"] for s in report["screws"]] == ["femoral neck", "femoral neck"]
    assert report["femoral_neck"][0]["screws"] == ["Screw 3", "Screw 4"]
    other = PlanningSession(session.scene, folder_name="reimport")
    other.set_ct_volume(session.ct)
    other.set_bone_model(session.bone)
    assert other.import_plan(files["plan"]) == ["Screw 3", "Screw 4"]
    assert [other.screw(x).role for x in other.screw_names()] == ["femoral neck", "femoral neck"]
    other.close()


def test_table_rows_show_the_truth(session, phantom):
    """The planning tables (shared by the Slicer module and the web planner) show each screw's truth grade, the
    lesion and the cement, with the names the session gave them."""
    from PercutaneousOsteosynthesisLib.session import tables

    truth = phantom[1]
    safe, unsafe = _path(truth, "left femoral neck"), _path(truth, "left supra-acetabular into the hip joint")
    for p in (safe, unsafe):
        session.add_screw(None, p["entry_lps"], p["tip_lps"])
    rows = tables.screw_rows(session)
    assert [r["cells"][0] for r in rows] == ["Screw 1", "Screw 2"]
    assert [r["cells"][tables.SCREW_GRADE_COLUMN] for r in rows] == [_truth_grade(safe["min_clearance_mm"]), "breach"]
    assert rows[1]["colour"] == pytest.approx(GRADE_COLOURS["breach"])
    assert all(len(r["cells"]) == len(tables.SCREW_COLUMNS) for r in rows)
    lesion = truth["lesions"][0]
    session.add_lesion(None, lesion["center_lps"], "moderate")
    session.add_cement(None, lesion["center_lps"], 2.0)
    (les,) = tables.lesion_rows(session)
    assert les["cells"][0] == "Lesion 1" and les["pain"] == "moderate"
    assert float(les["cells"][1]) == pytest.approx(lesion["volume_ml"], rel=0.15)
    assert les["cells"][4].startswith("n/a")  # Mirels is for long bones; the phantom's lesions are in the hip bones
    (cem,) = tables.cement_rows(session)
    assert cem[0] == "Cement 1" and float(cem[1]) == pytest.approx(2.0, abs=0.05)
    assert [g[0] for g in tables.guidance_rows(session)] == ["Screw 1", "Screw 2"]
