"""Exact distance transforms: the ``edt`` package and SimpleITK's Maurer transform give SciPy's exact Euclidean distances
on anisotropic grids, and the bone model's signed distance field is the same whichever computes it."""

import numpy as np
import pytest
from scipy import ndimage

import PercutaneousOsteosynthesisLib.geometry.distance_transform as dt
from PercutaneousOsteosynthesisLib.bone.distance_field import SURFACE_OFFSET_VOXELS, signed_distance_mm
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry

SPACING_KJI = (2.5, 0.7, 1.3)


def _blobs(shape=(30, 44, 52), seed=3):
    rng = np.random.default_rng(seed)
    return ndimage.binary_dilation(rng.random(shape) > 0.996, iterations=3)


def _geometry(mask, spacing_kji=SPACING_KJI):
    return ImageGeometry(mask.shape[::-1], tuple(spacing_kji[::-1]), (4.0, -7.0, 11.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_the_edt_package_is_installed_with_the_project():
    assert dt.fast_transform_available()


@pytest.mark.parametrize("use_edt", [True, False])
def test_squared_depth_equals_scipys_exact_transform(use_edt):
    mask = _blobs()
    truth = ndimage.distance_transform_edt(mask, sampling=SPACING_KJI) ** 2
    got = dt.squared_depth_mm2(mask, SPACING_KJI, use_edt=use_edt)
    assert got.dtype == np.float32 and got.shape == mask.shape
    assert np.abs(got - truth).max() < 1e-3  # mm², float32 rounding only
    assert np.all(got[~mask] == 0)


def test_distance_across_is_both_sides_at_once():
    mask = _blobs()
    inside = ndimage.distance_transform_edt(mask, sampling=SPACING_KJI) ** 2
    outside = ndimage.distance_transform_edt(~mask, sampling=SPACING_KJI) ** 2
    got = dt.squared_distance_across_mm2(mask, SPACING_KJI)
    assert np.abs(got[mask] - inside[mask]).max() < 1e-3
    assert np.abs(got[~mask] - outside[~mask]).max() < 1e-3


def test_signed_distance_of_a_ball_is_its_analytic_distance_either_way(monkeypatch):
    # a ball of radius 20 mm on an anisotropic grid: the field is |x - c| - r within the voxel-centre surface's error
    spacing = (2.0, 0.8, 1.1)
    shape = (40, 90, 70)
    c = np.array([s * (n - 1) / 2.0 for s, n in zip(spacing, shape)])
    grid = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij"), -1)
    exact = np.linalg.norm(grid - c, axis=-1) - 20.0
    mask = exact <= 0
    geo = _geometry(mask, spacing)
    fast = signed_distance_mm(mask, geo)
    monkeypatch.setattr(dt, "_edt", None)
    slow = signed_distance_mm(mask, geo)
    assert np.abs(fast - slow).max() < 1e-3
    near = np.abs(exact) < 10.0
    assert np.abs(fast - exact)[near].max() < max(spacing)  # voxel-centre surface: under a voxel
    assert abs(float(np.median((fast - exact)[near]))) < 0.25
    # the sign is right everywhere: negative inside, positive outside beyond the offset
    off = SURFACE_OFFSET_VOXELS * min(spacing)
    assert np.all(fast[mask] <= -off + 1e-6) and np.all(fast[~mask] >= min(spacing) - off - 1e-6)


def test_a_mask_without_background_has_no_finite_depth():
    full = np.ones((4, 5, 6), bool)
    assert np.all(dt.squared_depth_mm2(full, (1.0, 1.0, 1.0)) > 1e30)


def test_crater_hull_mask_equals_every_voxel_tested_against_every_facet():
    """bone.craters' hull mask (bounds per row) against the brute-force test of each voxel centre against each facet
    plane of scipy's convex hull, on random point sets and anisotropic spacings."""
    from scipy.spatial import ConvexHull

    from PercutaneousOsteosynthesisLib.bone.craters import _hull_mask

    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        sp = rng.choice([0.5, 0.7, 1.0, 1.25, 2.5, 3.0], 3)
        pts = rng.integers(0, 30, (int(rng.integers(8, 150)), 3)) * sp
        hull = ConvexHull(pts)
        kji = np.argwhere(np.ones((40, 40, 40), bool))
        truth = np.all(kji * sp @ hull.equations[:, :3].T + hull.equations[:, 3] <= 1e-6, axis=1).reshape(40, 40, 40)
        got = _hull_mask(pts, (40, 40, 40), sp)
        assert np.array_equal(got, truth)
        checked += int(truth.sum() > 0)
    assert checked == 60
