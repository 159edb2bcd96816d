"""Fracture-risk findings against the phantom's analytic anatomy: the femur's lesser-trochanter level, Mirels' site
by that level, Harrington's class of periacetabular lesions and the axial cortical involvement of femur lesions.
Lesions here are masks drawn from analytic shapes on the bone model's grid (their truth is their shape)."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.femur_levels import SHAFT_AREA_FACTOR, trochanteric_end_z_lps
from PercutaneousOsteosynthesisLib.lesions.analysis import lesion_fracture_risk, lesion_mirels
from PercutaneousOsteosynthesisLib.lesions.segmentation import Lesion
from PercutaneousOsteosynthesisLib.phantom.shapes import union_sdf


def _lesion(bone, inside, name="lesion"):
    """A lytic Lesion whose voxels are the bone-grid voxel centres where ``inside(points_lps)`` is true."""
    g = bone.geometry
    k, j, i = np.meshgrid(*[np.arange(n) for n in g.shape_kji], indexing="ij", sparse=False)
    pts = g.ijk_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]).astype(float))
    mask = inside(pts).reshape(g.shape_kji)
    box = tuple(slice(0, n) for n in g.shape_kji)
    p = pts[mask.ravel()]
    return Lesion(name, g, box, mask, mask.sum() * g.voxel_volume_mm3 / 1000, 0.0, p.mean(axis=0), {}, "lytic", False, 0.0, 0.5,
                  np.array([0, 0, 1.0]), p.mean(axis=0), p.mean(axis=0))


def _femur(phantom_bone, side="left"):
    return next(c for c in phantom_bone.components if c["kind"] == "femur" and c["side"] == side)


def _truth_trochanteric_end(anatomy, side="left"):
    """The same definition on the analytic femur: the level where its horizontal cross-section first exceeds
    SHAFT_AREA_FACTOR x the shaft's, going up (Monte Carlo areas, 1 mm bins)."""
    femur = [anatomy.part(f"{side} femur")]
    lo, hi = np.array([40.0, -60.0, -140.0]), np.array([140.0, 50.0, -20.0])
    if side == "right":
        lo, hi = np.array([-140.0, -60.0, -140.0]), np.array([-40.0, 50.0, -20.0])
    rng = np.random.default_rng(1)
    p = lo + rng.random((4_000_000, 3)) * (hi - lo)
    z = p[union_sdf(femur, p) < 0, 2]
    counts, edges = np.histogram(z, bins=np.arange(-140.0, -19.0, 1.0))
    area = counts * np.prod(hi - lo) / len(p)
    shaft = np.median(area[5:25])  # -135..-115: the shaft (the image's last slices cut it)
    first_wide = np.flatnonzero((area > SHAFT_AREA_FACTOR * shaft) & (edges[:-1] > -115.0))[0]
    return float(edges[first_wide])


def test_lesser_trochanter_level(phantom_bone, anatomy):
    femur = _femur(phantom_bone)
    found = trochanteric_end_z_lps(phantom_bone, femur, femur["head_centre_lps"][2])
    assert found == pytest.approx(_truth_trochanteric_end(anatomy), abs=3.0)


def test_mirels_site_by_femoral_level(phantom_bone):
    femur = _femur(phantom_bone)
    level = trochanteric_end_z_lps(phantom_bone, femur, femur["head_centre_lps"][2])
    head = np.array(femur["head_centre_lps"])
    shaft_axis_x = float(np.median([head[0] + 10.0]))  # the phantom's shaft lies lateral to the head
    cases = {"peritrochanteric": head + [12.0, 0.0, -20.0], "subtrochanteric": None}
    # a small lesion in the shaft 20 mm below the lesser trochanter's level, and one in the neck
    shaft_point = np.array([shaft_axis_x + 1.0, head[1] + 4.0, level - 20.0])
    cases["subtrochanteric"] = shaft_point
    for expected, centre in cases.items():
        les = _lesion(phantom_bone, lambda p, c=centre: np.linalg.norm(p - c, axis=1) < 5.0)
        m = lesion_mirels(les, phantom_bone, "moderate")
        assert m["bone"] == "left femur"
        if expected == "peritrochanteric":
            assert m["site"] == "peritrochanteric" and m["items"]["site"] == 3
        else:
            assert m["site"] == "lower limb" and m["level"] == "subtrochanteric" and m["items"]["site"] == 2


def test_harrington_class_from_the_acetabular_walls(phantom, phantom_bone):
    lm = phantom[1]["landmarks"]
    head = np.array(lm["femoral_head_center_left_lps"])
    r = lm["femoral_head_radius_mm"] + 3.0  # head + joint space
    medial = np.array([-1.0, 0.0, 0.0])  # the left head's midline side is -x
    # a lesion eating the medial wall behind the acetabulum, one eating the roof, one in the wing far above
    for centre, klass in ((head + (r + 5.0) * medial, 2), (head + (r + 5.0) * np.array([0, 0, 1.0]), 3)):
        les = _lesion(phantom_bone, lambda p, c=centre: (np.linalg.norm(p - c, axis=1) < 9.0) & (np.linalg.norm(p - head, axis=1) > r))
        risk = lesion_fracture_risk(les, phantom_bone)
        assert risk["harrington"]["class"] == klass, risk
    contained = phantom[1]["lesions"][0]  # the supra-acetabular pillar lesion: 9 mm, well above the roof
    les = _lesion(phantom_bone, lambda p: np.linalg.norm(p - contained["center_lps"], axis=1) < contained["radius_mm"])
    assert lesion_fracture_risk(les, phantom_bone)["harrington"]["class"] in (None, 1)


def test_axial_cortical_involvement_of_a_femur_lesion(phantom_bone, anatomy):
    """A lesion along the lateral shaft cortex, 40 mm long: its axial cortical involvement is its z extent within 3 mm
    of the analytic surface (truth), flagged over 30 mm; a 16 mm one is not flagged."""
    femur = _femur(phantom_bone)
    level = trochanteric_end_z_lps(phantom_bone, femur, femur["head_centre_lps"][2])
    shaft = anatomy.part("left femoral shaft")
    a = np.asarray(shaft.a, float)
    lateral = a + np.array([15.0, 0.0, 0.0])
    for length, flagged in ((40.0, True), (16.0, False)):
        top = level - 10.0
        def inside(p, top=top, length=length):
            return (np.abs(p[:, 0] - lateral[0]) < 5.0) & (np.abs(p[:, 1] - a[1]) < 6.0) & (p[:, 2] < top) & (p[:, 2] > top - length)
        les = _lesion(phantom_bone, inside)
        risk = lesion_fracture_risk(les, phantom_bone)["proximal_femur"]
        pts = les.points_lps()
        near = pts[union_sdf(anatomy.bone, pts) > -3.0]
        truth = np.ptp(near[:, 2]) + 1.0
        assert risk["axial_cortical_involvement_mm"] == pytest.approx(truth, abs=2.0)
        assert risk["axial_involvement_over_30mm"] is flagged
