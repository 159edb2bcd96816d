"""The entry rule against a box bone of known geometry: soft tissue before the bone entry and the near cortex are
not breach, a screw entering on the cortex can be excellent, and a real breach is never hidden; perforation grades."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw, perforation_grade
from PercutaneousOsteosynthesisLib.screws.screw import Screw

HALF = np.array([30.0, 17.0, 17.0])  # the box bone's half sizes (LPS mm), centred at the origin
CORTEX_MM = 2.0
R = 3.65  # 7.3 mm screws


def _hu(p):
    """HU of the box phantom at LPS points: cortex 1000, cancellous 250, muscle 40 inside the body, air outside."""
    d = np.max(np.abs(p) - HALF, axis=-1)  # >0 outside the box (Chebyshev: faces only matter here)
    hu = np.where(np.max(np.abs(p) - [45, 30, 30], axis=-1) <= 0, 40.0, -1000.0)
    hu = np.where(d <= 0, 1000.0, hu)
    return np.where(d <= -CORTEX_MM, 250.0, hu)


@pytest.fixture(scope="module")
def box_bone():
    sp, lo, size = 1.0, np.array([-50.0, -35.0, -35.0]), (101, 71, 71)
    geo = ImageGeometry(size, (sp,) * 3, tuple(lo), (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    centres = lo + sp * np.stack([i, j, k], axis=-1)
    off = (np.arange(4) - 1.5) / 4.0 * sp  # 64 sub-samples per voxel: partial volume at the faces
    acc = np.zeros(size[::-1])
    for dx in off:
        for dy in off:
            for dz in off:
                acc += _hu(centres + [dx, dy, dz])
    ct = CTVolume(np.round(acc / 64).astype(np.int16), geo, "box phantom")
    return build_bone_model(ct)


def _clearance_truth(entry, tip, step=0.05):
    """Analytic clearance along the axis after the bone entry and the near-cortex rise (the box is convex: the
    near face is the entry face, so the rise ends where another face becomes nearer)."""
    e, t = np.asarray(entry, float), np.asarray(tip, float)
    s = np.arange(0.0, np.linalg.norm(t - e) + 1e-9, step)
    p = e + s[:, None] * (t - e) / np.linalg.norm(t - e)
    c = np.min(HALF - np.abs(p), axis=1) - R
    inside = np.all(np.abs(p) < HALF, axis=1)
    first = int(np.argmax(inside))
    rise = first + int(np.argmax(np.diff(c[first:]) <= 0))
    return float(c[rise:].min())


@pytest.mark.parametrize("entry_x, where", [(-30.0, "on the cortex"), (-38.0, "8 mm out in muscle"), (-25.0, "inside bone")])
def test_centred_screw_is_excellent_wherever_it_enters(box_bone, entry_x, where):
    entry, tip = [entry_x, 0.0, 0.0], [20.0, 0.0, 0.0]
    c = check_screw(Screw(where, entry, tip, 2 * R), box_bone)
    truth = _clearance_truth(entry, tip)  # 10 mm to the far face at the tip: 6.35 mm
    assert truth == pytest.approx(6.35, abs=0.06)
    assert c.grade == "excellent", where
    assert c.min_clearance_mm == pytest.approx(truth, abs=0.5), where
    assert c.breach_length_mm == 0.0 and c.perforation_grade == 0


def test_screw_leaving_through_a_face_is_a_breach(box_bone):
    entry, tip = [-38.0, 0.0, 0.0], [20.0, 0.0, 14.0]  # rises towards the top face: 3 mm from it at the tip
    c = check_screw(Screw("tilted", entry, tip, 2 * R), box_bone)
    truth = _clearance_truth(entry, tip)
    assert truth < 0 and c.grade == "breach"
    assert c.min_clearance_mm == pytest.approx(truth, abs=0.5)
    assert c.perforation_grade == 1  # < 2 mm out


def test_screw_grazing_the_cortex_is_a_breach_over_its_length(box_bone):
    entry, tip = [-38.0, 0.0, 15.0], [20.0, 0.0, 15.0]  # axis 2 mm under the top face: 1.65 mm of the screw out
    c = check_screw(Screw("grazing", entry, tip, 2 * R), box_bone)
    assert c.grade == "breach"
    assert c.min_clearance_mm == pytest.approx(-1.65, abs=0.5)
    assert c.breach_length_mm > 40.0  # from the bone entry (x = -30) to the tip, not just a stretch after 10 mm


def test_screw_exiting_the_far_face_is_a_breach(box_bone):
    c = check_screw(Screw("through", [-38.0, 0.0, 0.0], [36.0, 0.0, 0.0], 2 * R), box_bone)
    assert c.grade == "breach" and c.tip_protrusion_mm == pytest.approx(6.0, abs=0.6)
    assert c.perforation_grade == 3  # the tip 6 mm out: >= 4 mm


@pytest.mark.parametrize("out_mm, grade", [(0.0, 0), (0.5, 1), (1.99, 1), (2.0, 2), (3.9, 2), (4.0, 3), (12.0, 3)])
def test_perforation_grade_thresholds(out_mm, grade):
    assert perforation_grade(-out_mm) == grade
