"""Trajectory suggestions: from a poorly drawn femoral neck screw on the phantom to a safe one."""

from __future__ import annotations

import time

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.geometry.vectors import perpendicular_frame
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
from PercutaneousOsteosynthesisLib.screws.implants import default_catalog, screw_from_implant
from PercutaneousOsteosynthesisLib.screws.suggest import suggest_trajectories


def _poor_neck_screw(truth):
    p = truth["screw_paths"][0]  # the safe femoral neck path
    e, t = np.array(p["entry_lps"]), np.array(p["tip_lps"])
    u = (t - e) / np.linalg.norm(t - e)
    e1, e2 = perpendicular_frame(u)
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


def _block_and_rod_bone():
    """A thick short block (x -75..-35, half-width 20 mm) continued by a thin long rod (x -35..50, half-width 7 mm):
    cortex 2 mm (1000 HU), cancellous 250 HU, in muscle; 1 mm voxels with 8 sub-samples each."""
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
    from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
    from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry

    lo, size = np.array([-85.0, -35.0, -35.0]), (146, 71, 71)
    geo = ImageGeometry(size, (1.0,) * 3, tuple(lo), (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    centres = lo + np.stack([i, j, k], axis=-1)
    acc = np.zeros(size[::-1])
    for dx in (-0.25, 0.25):
        for dy in (-0.25, 0.25):
            for dz in (-0.25, 0.25):
                p = centres + [dx, dy, dz]
                block = np.max(np.abs(p - [-55.0, 0, 0]) - [20.0, 20.0, 20.0], axis=-1)
                rod = np.max(np.abs(p - [7.5, 0, 0]) - [42.5, 7.0, 7.0], axis=-1)
                d = np.minimum(block, rod)
                acc += np.where(d <= -2.0, 250.0, np.where(d <= 0, 1000.0, 40.0))
    return build_bone_model(CTVolume((acc / 8).astype(np.float32), geo, "block and rod"))


def test_the_longest_safe_screw_ranks_first():
    """A screw drawn from the block toward the rod but leaving it: the best suggestion runs down the rod (long,
    3.35 mm clearance at most) rather than staying in the block (clearance up to 16 mm but at most ~40 mm long)."""
    from PercutaneousOsteosynthesisLib.screws.screw import Screw

    bone = _block_and_rod_bone()
    entry = np.array([-75.0, 0.0, 0.0])
    u = np.array([np.cos(np.radians(8)), np.sin(np.radians(8)), 0.0])
    drawn = Screw("drawn", entry, entry + 60.0 * u, 7.3, "CS-7.3-T16-060")
    assert check_screw(drawn, bone).grade == "breach"
    best = suggest_trajectories(drawn, bone, cone_deg=10, entry_radius_mm=5)[0]
    assert best.check.grade == "excellent"
    # truth: the longest catalog length within the search cap (drawn + 20 mm) that the rod holds
    lengths = [x for x in default_catalog().lengths(7.3, 16) if x <= 80.0]
    assert best.screw.length_mm == pytest.approx(max(lengths))
    tip = best.screw.tip_lps
    assert tip[0] > -35.0 and max(abs(tip[1]), abs(tip[2])) < 7.0 - 3.65  # in the rod, the whole screw inside it
