"""Screw roles: parsed from the CLI, kept in the plan file, and deciding which metrics a screw gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.cli.args import parse_screw_arg
from PercutaneousOsteosynthesisLib.cli.main import main
from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.plan.markups import load_plan, plan_to_markups_json, save_plan
from PercutaneousOsteosynthesisLib.plan.model import Plan
from PercutaneousOsteosynthesisLib.screws.roles import FEMORAL_NECK, ILIOSACRAL, OTHER, ROLES, parse_role, role_from_name
from PercutaneousOsteosynthesisLib.screws.screw import Screw


@pytest.mark.parametrize("text", ["femoral neck", "femoral-neck", "Femoral_Neck", " FEMORAL  NECK "])
def test_parse_role_spellings(text):
    assert parse_role(text) == FEMORAL_NECK


def test_unknown_role_is_a_clear_error():
    with pytest.raises(PosteoInputError, match="unknown screw role 'pedicle'"):
        parse_role("pedicle", "--screw x")
    with pytest.raises(PosteoInputError, match="role"):
        Screw("s", [0, 0, 0], [0, 0, 50], 7.3, role="pedicle")
    assert parse_role(None) == parse_role("") == OTHER


def test_legacy_names_imply_roles():
    assert role_from_name("left femoral neck 2") == FEMORAL_NECK
    assert role_from_name("S1 iliosacral left") == ILIOSACRAL
    assert role_from_name("Screw 3") == OTHER


def test_cli_screw_argument_with_and_without_role():
    s = parse_screw_arg("Screw 3:CS-7.3-T16-060:0,0,0:0,0,70:femoral-neck")
    assert (s.name, s.role) == ("Screw 3", FEMORAL_NECK)
    assert parse_screw_arg("Screw 3:CS-7.3-T16-060:0,0,0:0,0,70").role == OTHER
    assert parse_screw_arg("a:b:c:CS-7.3-T16-060:0,0,0:0,0,70").name == "a:b:c"  # colons in a name still work
    with pytest.raises(PosteoInputError, match="unknown screw role"):
        parse_screw_arg("Screw 3:CS-7.3-T16-060:0,0,0:0,0,70:pedicle")


@pytest.mark.parametrize("role", ROLES)
def test_role_round_trips_through_the_plan_file(tmp_path, role):
    plan = Plan("p", [Screw("Screw 1", [1.0, 2.0, 3.0], [1.0, 2.0, 63.0], 7.3, "CS-7.3-T16-060", 16.0, role=role)])
    assert load_plan(save_plan(plan, tmp_path / "p.mrk.json")).screws[0].role == role


def test_plan_file_without_roles_gets_them_from_names(tmp_path):
    plan = Plan("p", [Screw("left neck 1", [1.0, 2.0, 3.0], [1.0, 2.0, 63.0], 7.3, "CS-7.3-T16-060", 16.0, role=OTHER)])
    doc = plan_to_markups_json(plan)
    (line,) = [m for m in doc["markups"] if m["type"] == "Line"]
    desc = line["controlPoints"][0]["description"]
    assert ";role=other" in desc
    line["controlPoints"][0]["description"] = desc.replace(";role=other", "")  # a file from before roles
    path = tmp_path / "old.mrk.json"
    path.write_text(json.dumps(doc))
    assert load_plan(path).screws[0].role == FEMORAL_NECK


def test_gui_named_screws_with_the_neck_role_get_neck_metrics(phantom, tmp_path):
    """``posteo plan`` with two screws named like GUI screws: role femoral-neck gives the neck-set metrics."""
    from PercutaneousOsteosynthesisLib.phantom.ct import write_phantom

    ct_path, truth_path = write_phantom(tmp_path / "ph.nrrd", spacing=2.0)
    lm = json.loads(truth_path.read_text())["landmarks"]
    h, n = np.array(lm["femoral_head_center_left_lps"]), np.array(lm["neck_axis_left_lps"])
    up = np.cross(n, np.cross([0, 0, 1.0], n))
    up /= np.linalg.norm(up)
    args = []
    for i, o in enumerate((4 * up, -4 * up)):
        e, t = h + 55 * n + o, h - 10 * n + o
        args += ["--screw", f"Screw {i + 3}:CS-7.3-T16-060:{e[0]},{e[1]},{e[2]}:{t[0]},{t[1]},{t[2]}:femoral-neck"]
    main(["-q", "plan", str(ct_path), "--out", str(tmp_path / "out"), *args])
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [s["role"] for s in rep["screws"]] == [FEMORAL_NECK, FEMORAL_NECK]
    (neck,) = rep["femoral_neck"]
    assert neck["side"] == "left" and neck["screws"] == ["Screw 3", "Screw 4"]
    assert set(neck["tip_apex_distance_mm"]) == {"Screw 3", "Screw 4"}
