"""Trajectory suggestions: from a poorly drawn femoral neck screw on the phantom to a safe one."""

from __future__ import annotations

import time

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
from PercutaneousOsteosynthesisLib.screws.implants import default_catalog, screw_from_implant
from PercutaneousOsteosynthesisLib.screws.model import _perpendicular_frame
from PercutaneousOsteosynthesisLib.screws.suggest import suggest_trajectories


def _poor_neck_screw(truth):
    p = truth["screw_paths"][0]  # the safe femoral neck path
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    u = (t - e) / np.linalg.norm(t - e)
    e1, e2 = _perpendicular_frame(u)
    d = np.cos(np.radians(8.0)) * u + np.sin(np.radians(8.0)) * e1  # tilted 8 degrees, entry 6 mm off
    entry = e + 6.0 * e2
    return screw_from_implant("neck", default_catalog().get("CS-7.3-T16-090"), entry, entry + 70.0 * d)


def test_suggestion_improves_poor_neck_screw(phantom, phantom_bone, anatomy):
    _, truth = phantom
    drawn = _poor_neck_screw(truth)
    before = check_screw(drawn, phantom_bone)
    t0 = time.perf_counter()
    sug = suggest_trajectories(drawn, phantom_bone, cone_deg=10, entry_radius_mm=5)
    print(f"\nsuggestion search: {time.perf_counter() - t0:.3f} s; drawn min clearance {before.min_clearance_mm:.2f} mm "
          f"({before.grade}); best {sug[0].check.min_clearance_mm:.2f} mm ({sug[0].check.grade}, {sug[0].screw.implant_id})")
    assert before.grade == "breach"
    assert sug and sug[0].check.grade in ("excellent", "acceptable")
    best = sug[0]
    assert best.check.min_clearance_mm > before.min_clearance_mm
    # independent truth: the analytic envelope keeps the whole best screw inside bone
    s, pts = best.screw.axis_points_lps(0.25)
    depth = -anatomy.envelope_sdf(pts)
    assert depth.min() - best.screw.radius_mm > 0.0
    # within the search region, lengths from the catalog
    assert best.entry_shift_mm <= 5.0 + 1e-9 and best.angle_deg <= 10.0 + 1e-9
    imp = default_catalog().get(best.screw.implant_id)
    assert abs(imp.length_mm - best.screw.length_mm) < 1e-6 and imp.diameter_mm == 7.3
    grades = [x.check.grade for x in sug]
    assert grades == sorted(grades, key=["excellent", "acceptable"].index)


def test_no_candidate_in_air(phantom_bone):
    from PercutaneousOsteosynthesisLib.screws.screw import Screw

    lo, _ = phantom_bone.geometry.bounds_lps()
    far = Screw("air", lo + 1.0, lo + [1.0, 1.0, 61.0], 7.3, "CS-7.3-T16-060")
    assert suggest_trajectories(far, phantom_bone) == []
    with pytest.raises(PosteoInputError):
        suggest_trajectories(far, phantom_bone, cone_deg=95)
