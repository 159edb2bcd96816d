"""Fast (signed distance field) vs exact (surface mesh) screw clearance on the real CT."""

from __future__ import annotations

import time

import numpy as np

from PercutaneousOsteosynthesisLib.screws.clearance import check_screw
from PercutaneousOsteosynthesisLib.screws.mesh_check import MeshDistance, bone_inside_test, exact_min_clearance
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def _random_screws(bone, n_random=500, n_deep=500, seed=7):
    """Entry/tip inside the bone's bounding box, lengths 30-150 mm: half with a random entry (70 % in bone),
    half with both ends deep in bone (so that non-breaching screws are represented)."""
    rng = np.random.default_rng(seed)
    kji = np.argwhere(bone.labels > 0)
    pts = bone.geometry.ijk_to_lps(kji[:, ::-1].astype(float))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    deep = pts[bone.signed_distance_lps(pts) < -4.0]
    screws, _deep_n = [], 0
    while len(screws) < n_random + n_deep:
        want_deep = len(screws) >= n_random
        if want_deep or rng.random() < 0.7:
            e = deep[rng.integers(len(deep))]
        else:
            e = lo + rng.random(3) * (hi - lo)
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        t = e + rng.uniform(30.0, 150.0) * u
        if np.any(t < lo) or np.any(t > hi):
            continue
        if want_deep and bone.signed_distance_lps(t[None])[0] >= -4.0:
            continue
        screws.append(Screw(f"s{len(screws)}", e, t, float(rng.choice([4.5, 6.5, 7.3]))))
    return screws


def test_fast_matches_exact_mesh_on_real_ct(real_bone_2mm):
    bone = real_bone_2mm
    screws = _random_screws(bone)
    surf = bone.surface_polydata_lps()
    dist = MeshDistance(surf)
    inside = bone_inside_test(bone)
    t0 = time.perf_counter()
    fast = [check_screw(s, bone) for s in screws]
    t1 = time.perf_counter()
    exact = [exact_min_clearance(s, surf, inside, distance=dist) for s in screws]
    t2 = time.perf_counter()
    f = np.array([c.min_clearance_mm for c in fast])
    x = np.array([c.min_clearance_mm for c in exact])
    fb = np.array([c.grade == "breach" for c in fast])
    xb = np.array([c.grade == "breach" for c in exact])
    within = float(np.mean(np.abs(f - x) <= 2.0))
    verdict = float(np.mean(fb == xb))
    print(f"\n{len(screws)} screws: |fast - exact| <= 2 mm for {within:.1%}, verdict agreement {verdict:.1%}, "
          f"non-breach (exact) {np.mean(~xb):.1%}, median |diff| {np.median(np.abs(f - x)):.2f} mm, "
          f"fast {1e3 * (t1 - t0) / len(screws):.3f} ms/screw, exact {1e3 * (t2 - t1) / len(screws):.2f} ms/screw")
    assert within >= 0.99
    assert verdict >= 0.99
    assert np.mean(~xb) > 0.05  # the verdict comparison includes safe screws


def test_exact_clearance_of_a_sphere():
    """A sphere mesh of radius 20 mm (analytic depth 20 - |p|) and a 4 mm screw along the x axis."""
    import vtk

    src = vtk.vtkSphereSource()
    src.SetRadius(20.0)
    src.SetThetaResolution(180)
    src.SetPhiResolution(180)
    src.Update()
    surf = src.GetOutput()
    inside = lambda p: np.linalg.norm(p, axis=1) < 20.0  # noqa: E731
    # from 10 mm left of the centre to 15 mm right: the least deep point is the tip (depth 5 mm)
    sc = Screw("a", [-10.0, 0.0, 0.0], [15.0, 0.0, 0.0], 4.0)
    res = exact_min_clearance(sc, surf, inside)
    assert abs(res.min_clearance_mm - (20.0 - 15.0 - 2.0)) < 0.05
    assert abs(res.min_clearance_at_mm - 25.0) < 0.01
    assert res.grade == "excellent" and res.breach_length_mm == 0.0
    # tip 10 mm beyond the sphere: axis outside from s = 30 to 40 -> clearance < 0 from s = 28 (depth < radius)
    sc = Screw("b", [-10.0, 0.0, 0.0], [30.0, 0.0, 0.0], 4.0)
    res = exact_min_clearance(sc, surf, inside)
    assert abs(res.min_clearance_mm - (-10.0 - 2.0)) < 0.05
    assert abs(res.breach_length_mm - 12.0) < 0.6
    assert res.grade == "breach"
