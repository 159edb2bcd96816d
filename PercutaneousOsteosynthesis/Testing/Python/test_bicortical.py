"""Bicortical screws (tip meant to bite the far cortex) against two box bones of known geometry: an intended
protrusion up to 5 mm is not a breach, a longer one is; the guide-wire overshoot to the next bone; the flag
survives the plan file."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.plan.markups import load_plan, save_plan
from PercutaneousOsteosynthesisLib.plan.model import Plan
from PercutaneousOsteosynthesisLib.screws.clearance import BICORTICAL_PROTRUSION_MM, check_screw
from PercutaneousOsteosynthesisLib.screws.screw import Screw

GAP_START, GAP_END = 0.0, 20.0  # box A: x -40..0, box B: x 20..40 (half-sizes 15 mm in y and z)


@pytest.fixture(scope="module")
def two_boxes():
    lo, size = np.array([-55.0, -25.0, -25.0]), (111, 51, 51)
    geo = ImageGeometry(size, (1.0,) * 3, tuple(lo), (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    centres = lo + np.stack([i, j, k], axis=-1)
    acc = np.zeros(size[::-1])
    for dx in (-0.25, 0.25):
        for dy in (-0.25, 0.25):
            for dz in (-0.25, 0.25):
                p = centres + [dx, dy, dz]
                a = np.max(np.abs(p - [-20.0, 0, 0]) - [20.0, 15.0, 15.0], axis=-1)
                b = np.max(np.abs(p - [30.0, 0, 0]) - [10.0, 15.0, 15.0], axis=-1)
                d = np.minimum(a, b)
                acc += np.where(d <= -2.0, 250.0, np.where(d <= 0, 1000.0, 40.0))
    return build_bone_model(CTVolume((acc / 8).astype(np.float32), geo, "two boxes"))


@pytest.mark.parametrize("protrusion, bicortical, grade", [(3.0, True, "excellent"), (3.0, False, "breach"),
                                                           (BICORTICAL_PROTRUSION_MM + 3.0, True, "breach")])
def test_intended_far_cortex_protrusion(two_boxes, protrusion, bicortical, grade):
    screw = Screw("s", [-45.0, 0.0, 0.0], [GAP_START + protrusion, 0.0, 0.0], 7.3, bicortical=bicortical)
    check = check_screw(screw, two_boxes)
    assert check.grade == grade
    if bicortical and grade == "excellent":
        # the rest of the screw: 15 mm from every side wall minus the radius
        assert check.min_clearance_mm == pytest.approx(15.0 - 3.65, abs=0.6)
        assert check.overshoot_to_bone_mm == pytest.approx(GAP_END - (GAP_START + protrusion), abs=1.0)


def test_bicortical_flag_survives_the_plan_file(tmp_path):
    screws = [Screw("tits", [-45.0, 0, 0], [3.0, 0, 0], 7.3, bicortical=True), Screw("plain", [-45.0, 5, 0], [-5.0, 5, 0], 7.3)]
    path = save_plan(Plan("p", screws), tmp_path / "p.mrk.json")
    back = load_plan(path)
    assert [s.bicortical for s in back.screws] == [True, False]
