"""``posteo plan`` / ``posteo check`` in-process on a phantom written to disk, against the analytic truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.cli.args import parse_screw_arg
from PercutaneousOsteosynthesisLib.cli.main import main
from PercutaneousOsteosynthesisLib.errors import PosteoInputError


@pytest.fixture(scope="module")
def phantom_file(tmp_path_factory):
    from PercutaneousOsteosynthesisLib.phantom.ct import write_phantom

    d = tmp_path_factory.mktemp("phantom")
    ct_path, truth_path = write_phantom(d / "phantom.nrrd", spacing=1.5)
    return ct_path, json.loads(truth_path.read_text())


def _arg(name, implant, p):
    e, t = p["entry_lps"], p["tip_lps"]
    return f"{name}:{implant}:{e[0]},{e[1]},{e[2]}:{t[0]},{t[1]},{t[2]}"


def _paths(truth):
    return {p["name"].split(" (")[0]: p for p in truth["screw_paths"]}


def _analytic_min_clearance(anatomy, entry, tip, radius, step=0.05):
    e, t = np.asarray(entry), np.asarray(tip)
    length = np.linalg.norm(t - e)
    s = np.arange(0.0, length + 1e-9, step)
    pts = e + s[:, None] * (t - e) / length
    c = -anatomy.envelope_sdf(pts) - radius
    i = int(np.argmin(c))
    return float(c[i]), bool(anatomy.exact_mask(pts[i:i + 1])[0])


def test_plan_safe_screws(phantom_file, tmp_path, anatomy, capsys):
    ct_path, truth = phantom_file
    paths = _paths(truth)
    out = tmp_path / "out"
    code = main(["-q", "plan", str(ct_path), "--out", str(out),
                 "--screw", _arg("left neck", "CS-7.3-T16-060", paths["left femoral neck"]),
                 "--screw", _arg("left iliosacral", "CS-7.3-T16-065", paths["left iliosacral S1"])])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "left neck" in text and "excellent" in text
    rep = json.loads((out / "report.json").read_text())
    assert rep["@schema"].endswith("report-v2.json") and rep["format_version"] == 2
    assert rep["coordinate_system"] == "LPS" and rep["units"] == "mm" and rep["lesions"] == [] and rep["cement"] == []
    assert rep["ct"]["path"] == str(ct_path) and len(rep["ct"]["sha256"]) == 64
    neck, si = rep["screws"]
    assert neck["implant_id"] == "CS-7.3-T16-060" and abs(neck["length_mm"] - 60.0) < 1e-9
    assert np.allclose(neck["entry_lps"], paths["left femoral neck"]["entry_lps"])
    truth_min, exact = _analytic_min_clearance(anatomy, neck["entry_lps"], neck["tip_lps"], 3.65)
    # the analytic union distance is exact outside and a lower bound of the depth inside (a lower bound of clearance)
    assert neck["min_clearance_mm"] > truth_min - 0.75, (neck["min_clearance_mm"], truth_min, exact)
    if exact:
        assert abs(neck["min_clearance_mm"] - truth_min) < 0.75  # 1.5 mm voxels
    assert neck["grade"] == "excellent" and neck["breach_length_mm"] == 0.0 and neck["bone_fraction"] == 1.0
    assert si["grade"] != "breach" and si["joints_crossed"] == 1 and si["tip_in_joint"] is False
    assert len(neck["profile"]["s_mm"]) == len(neck["profile"]["clearance_mm"]) > 100
    # guidance keys present and consistent with the screw: skin is behind the entry
    assert neck["skin_to_tip_mm"] == pytest.approx(neck["skin_to_bone_entry_mm"] + 60.0)
    skin = np.array(neck["skin_entry_lps"])
    u = (np.array(neck["tip_lps"]) - np.array(neck["entry_lps"])) / 60.0
    assert np.allclose(np.array(neck["entry_lps"]) - neck["skin_to_bone_entry_mm"] * u, skin, atol=1e-6)
    assert rep["pairs"][0]["a"] == "left neck" and rep["pairs"][0]["min_gap_mm"] > 0
    assert rep["bone"]["volumes"]["bone"] > 0
    for name in ("left_neck", "left_iliosacral"):
        assert (out / "screws" / f"{name}.vtk").stat().st_size > 0 and (out / "screws" / f"{name}.stl").stat().st_size > 0
    assert (out / "plan.seg.nrrd").is_file() and (out / "plan.mrk.json").is_file()
    html = (out / "report.html").read_text()  # its 3D views show the bone (they were drawn without it)
    assert "3D views without the bone surface" not in html and "3D views not rendered" not in html
    (out / "report.html").unlink()  # rewritten from the folder alone: the bone from plan.seg.nrrd
    assert main(["-q", "report", str(out)]) == 0
    assert "3D views without the bone surface" not in (out / "report.html").read_text()


def test_plan_breach_and_check(phantom_file, tmp_path, capsys):
    from PercutaneousOsteosynthesisLib.plan.markups import save_plan
    from PercutaneousOsteosynthesisLib.plan.model import Plan
    from PercutaneousOsteosynthesisLib.screws.implants import default_catalog, screw_from_implant

    ct_path, truth = phantom_file
    paths = _paths(truth)
    hip, wing = paths["left supra-acetabular into the hip joint"], paths["left iliac wing exiting the inner table"]
    out = tmp_path / "out"
    code = main(["-q", "plan", str(ct_path), "--out", str(out), "--screw", _arg("supra", "CS-7.3-T16-055", hip),
                 "--screw", _arg("wing", "CS-6.5-T16-050", wing)])
    assert code == 1
    rep = json.loads((out / "report.json").read_text())
    assert [s["grade"] for s in rep["screws"]] == ["breach", "breach"]
    assert rep["screws"][1]["tip_protrusion_mm"] > 4.0  # the wing screw tip is ~5.9 mm out of the inner table
    assert "breach" in capsys.readouterr().out
    # the same on a saved plan with `posteo check`
    cat = default_catalog()
    plan = Plan(name="p", screws=[screw_from_implant("neck", cat.get("CS-7.3-T16-060"), paths["left femoral neck"]["entry_lps"],
                                                    paths["left femoral neck"]["tip_lps"]),
                                  screw_from_implant("wing", cat.get("CS-6.5-T16-050"), wing["entry_lps"], wing["tip_lps"])])
    plan_path = save_plan(plan, tmp_path / "plan.mrk.json")
    assert main(["-q", "check", str(ct_path), str(plan_path), "--out", str(tmp_path / "chk")]) == 1
    rep = json.loads((tmp_path / "chk" / "report.json").read_text())
    assert [s["grade"] for s in rep["screws"]] == ["excellent", "breach"]
    plan.screws = plan.screws[:1]
    save_plan(plan, plan_path)
    assert main(["-q", "check", str(ct_path), str(plan_path), "--out", str(tmp_path / "chk2")]) == 0


def test_plan_suggest(phantom_file, tmp_path, capsys):
    ct_path, truth = phantom_file
    p = dict(_paths(truth)["left femoral neck"])
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    p["tip_lps"] = (t + 12.0 * (t - e) / np.linalg.norm(t - e)).tolist()  # 73 mm: out of the head
    code = main(["-q", "plan", str(ct_path), "--out", str(tmp_path / "o"), "--screw", _arg("neck", "CS-7.3-T16-070", p),
                 "--suggest", "neck"])
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert code == 1 and rep["screws"][0]["grade"] == "breach"
    best = rep["suggestions"]["neck"][0]
    assert best["grade"] in ("excellent", "acceptable") and best["min_clearance_mm"] > rep["screws"][0]["min_clearance_mm"]
    assert "suggestions for neck" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["neck:CS-7.3-T16-060:1,2:4,5,6", "neck:CS-7.3-T16-060:1,2,x:4,5,6", "justaname",
                                 "neck:NOPE-1:0,0,0:0,0,60", "neck:CS-7.3-T16-060:0,0,0:0,0,0",
                                 "neck:CS-7.3-T16-060:0,0,0:0,0,10", "neck:CS-7.3-T16-060:nan,0,0:0,0,60"])
def test_bad_screw_arguments(bad, tmp_path, capsys):
    assert main(["-q", "plan", str(tmp_path / "missing.nrrd"), "--out", str(tmp_path / "o"), "--screw", bad]) == 2
    err = capsys.readouterr().err
    assert "--screw" in err and repr(bad) in err
    with pytest.raises(PosteoInputError):
        parse_screw_arg(bad)


def test_bad_files(phantom_file, tmp_path):
    ct_path, _ = phantom_file
    assert main(["-q", "check", str(ct_path), str(tmp_path / "none.mrk.json"), "--out", str(tmp_path / "o")]) == 2
    assert main(["-q", "plan", str(tmp_path / "none.nrrd"), "--out", str(tmp_path / "o"),
                 "--screw", "a:CS-7.3-T16-060:0,0,0:0,0,60"]) == 2
    far = "far:CS-7.3-T16-060:5000,5000,5000:5000,5000,5060"
    assert main(["-q", "plan", str(ct_path), "--out", str(tmp_path / "o"), "--screw", far]) == 2
    assert main(["-q", "plan", str(ct_path), "--out", str(tmp_path / "o"), "--screw", far, "--margin", "-1"]) == 2


def test_plan_exact_confirms_on_the_mesh(phantom_file, tmp_path, anatomy):
    """``--exact`` re-measures every screw on the bone surface mesh: its clearance matches the analytic phantom and its
    grade the truth (a safe femoral-neck screw, and a screw leaving the iliac wing's inner table)."""
    ct_path, truth = phantom_file
    paths = _paths(truth)
    neck, wing = paths["left femoral neck"], paths["left iliac wing exiting the inner table"]
    out = tmp_path / "out"
    assert main(["-q", "plan", str(ct_path), "--out", str(out), "--exact", "--screw", _arg("neck", "CS-7.3-T16-060", neck),
                 "--screw", _arg("wing", "CS-6.5-T16-050", wing)]) == 1
    rep = {s["name"]: s for s in json.loads((out / "report.json").read_text())["screws"]}
    assert rep["neck"]["exact"]["grade"] == "excellent" and rep["wing"]["exact"]["grade"] == "breach"
    for name, p, implant_radius in (("neck", neck, 3.65), ("wing", wing, 3.25)):
        screw_tip = np.asarray(p["entry_lps"]) + rep[name]["length_mm"] * (np.subtract(p["tip_lps"], p["entry_lps"])
                                                                             / np.linalg.norm(np.subtract(p["tip_lps"], p["entry_lps"])))
        truth_min, _ = _analytic_min_clearance(anatomy, p["entry_lps"], screw_tip, implant_radius)
        # 1.5 mm voxels: the mesh is the smoothed envelope surface, within a voxel of the analytic one
        assert rep[name]["exact"]["min_clearance_mm"] == pytest.approx(truth_min, abs=1.5), name


def test_screw_table_names_an_old_implant_once(capsys):
    """The terminal table flags a screw near existing metal once: by the no-go text when the implant is the nearest
    structure, else by its own 'metal' flag."""
    from PercutaneousOsteosynthesisLib.cli.tables import print_screw_table
    from PercutaneousOsteosynthesisLib.screws.clearance import EXISTING_IMPLANT

    row = {"name": "s", "implant_id": "x", "length_mm": 80.0, "min_clearance_mm": 0.5, "min_clearance_at_mm": 30.0,
           "breach_length_mm": 0.0, "tip_protrusion_mm": 0.0, "grade": "acceptable", "tip_in_joint": False,
           "joints_crossed": 0, "metal_clearance_mm": 0.6}
    near_metal = dict(row, nogo={EXISTING_IMPLANT: 0.6, "left S1 foramen": 4.0})
    near_foramen = dict(row, name="t", nogo={EXISTING_IMPLANT: 0.6, "left S1 foramen": 0.3})
    print_screw_table({"screws": [near_metal, near_foramen], "pairs": [], "margin_mm": 1.0})
    lines = capsys.readouterr().out.splitlines()
    first, second = (next(x for x in lines if x.startswith(n + " ")) for n in ("s", "t"))
    assert first.count("metal") == 1 and f"{EXISTING_IMPLANT} 0.6 mm" in first
    assert "left S1 foramen 0.3 mm" in second and "metal 0.6 mm" in second
