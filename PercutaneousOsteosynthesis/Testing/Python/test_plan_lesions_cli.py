"""``posteo plan`` with lesion seeds and cement: report fields against the phantom truth, the bundle read back
by Slicer's own readers and by ``load_plan``."""

import json

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.cli.args import parse_cement_arg, parse_lesion_arg
from PercutaneousOsteosynthesisLib.cli.main import main
from PercutaneousOsteosynthesisLib.errors import PosteoInputError


@pytest.fixture(scope="module")
def phantom_1mm(tmp_path_factory):
    from PercutaneousOsteosynthesisLib.phantom.ct import write_phantom

    d = tmp_path_factory.mktemp("phantom1")
    ct_path, truth_path = write_phantom(d / "phantom.nrrd")
    return ct_path, json.loads(truth_path.read_text())


def _pt(p):
    return ",".join(f"{v:.3f}" for v in p)


def test_plan_with_lesions_and_cement(phantom_1mm, tmp_path, capsys):
    from PercutaneousOsteosynthesisLib.fileio.segmentation import read_segmentation
    from PercutaneousOsteosynthesisLib.plan.markups import load_plan

    ct_path, truth = phantom_1mm
    contained = next(l for l in truth["lesions"] if not l["breaks_cortex"])
    broken = next(l for l in truth["lesions"] if l["breaks_cortex"])
    neck = next(p for p in truth["screw_paths"] if p["name"].startswith("left femoral neck"))
    out = tmp_path / "bundle"
    seed_off = np.array(contained["center_lps"]) + [3.0, -2.0, 1.0]  # anywhere inside the lesion
    code = main(["-q", "plan", str(ct_path), "--out", str(out),
                 "--screw", f"left neck:CS-7.3-T16-060:{_pt(neck['entry_lps'])}:{_pt(neck['tip_lps'])}",
                 "--lesion-seed", f"contained:{_pt(seed_off)}:moderate",
                 "--lesion-seed", f"broken:{_pt(broken['center_lps'])}",
                 "--cement", f"cement contained:{_pt(contained['center_lps'])}:2.5",
                 "--cement", f"cement broken:{_pt(broken['center_lps'])}:3"])
    text = capsys.readouterr().out
    assert code == 0, text
    rep = json.loads((out / "report.json").read_text())
    les = {l["name"]: l for l in rep["lesions"]}
    assert les["contained"]["volume_ml"] == pytest.approx(contained["volume_ml"], rel=0.10)
    assert les["broken"]["volume_ml"] == pytest.approx(broken["volume_ml"], rel=0.10)
    assert les["broken"]["cortical_breakthrough"] is True and les["contained"]["cortical_breakthrough"] is False
    assert les["contained"]["type"] == "lytic"
    cem = {c["name"]: c for c in rep["cement"]}
    assert cem["cement broken"]["leak_risk"]["at_risk"] is True
    assert cem["cement contained"]["leak_risk"]["at_risk"] is False
    voxel_ml = 1e-3  # 1 mm voxels
    for c, v in (("cement contained", 2.5), ("cement broken", 3.0)):
        assert abs(cem[c]["volume_ml"] - v) <= voxel_ml * v
    assert "leak risk: AT RISK" in text
    # the bundle: Slicer's segmentation reader sees bone, lesions and cement; the plan file rebuilds the plan
    segs = read_segmentation(out / "plan.seg.nrrd")
    assert {"bone", "cortex", "contained", "broken", "cement contained", "cement broken"} <= set(segs)
    mask, geo = segs["cement contained"]
    assert mask.sum() * np.prod(geo.spacing) / 1000 == pytest.approx(cem["cement contained"]["volume_ml"], abs=1e-6)
    plan = load_plan(out / "plan.mrk.json")
    assert [s.name for s in plan.screws] == ["left neck"] and [l.name for l in plan.lesions] == ["contained", "broken"]
    assert plan.lesions[0].pain == "moderate" and [c.volume_ml for c in plan.cement] == [2.5, 3.0]
    assert np.allclose(plan.cement[1].point_lps, broken["center_lps"], atol=1e-3)
    assert plan.results["left neck"]["grade"] == rep["screws"][0]["grade"]


@pytest.mark.parametrize("bad", ["x", "a:1,2", "a:1,2,3:sore", ":1,2,3", "a:1,2,nan"])
def test_bad_lesion_args(bad):
    with pytest.raises(PosteoInputError, match="--lesion-seed"):
        parse_lesion_arg(bad)


@pytest.mark.parametrize("bad", ["a:1,2,3", "a:1,2,3:-1", "a:1,2,3:lots", "a:1,2:3"])
def test_bad_cement_args(bad):
    with pytest.raises(PosteoInputError, match="--cement"):
        parse_cement_arg(bad)


def test_cementoplasty_plan_needs_no_screw(phantom_1mm, tmp_path, capsys):
    """Cementoplasty alone (lesion seed + cement, no screw) is a plan; nothing at all to plan is a clear error."""
    ct_path, truth = phantom_1mm
    contained = next(l for l in truth["lesions"] if not l["breaks_cortex"])
    out = tmp_path / "cement-only"
    code = main(["-q", "plan", str(ct_path), "--out", str(out), "--lesion-seed", f"lesion:{_pt(contained['center_lps'])}",
                 "--cement", f"cement:{_pt(contained['center_lps'])}:2"])
    assert code == 0, capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text())
    assert rep["screws"] == [] and [c["name"] for c in rep["cement"]] == ["cement"]
    assert rep["lesions"][0]["volume_ml"] == pytest.approx(contained["volume_ml"], rel=0.10)
    assert rep["ct_quality"]["level"] == "full"
    capsys.readouterr()
    assert main(["-q", "plan", str(ct_path), "--out", str(tmp_path / "empty")]) == 2
    assert "nothing to plan" in capsys.readouterr().err
