"""Fast morphology against scipy.ndimage with the equivalent structuring elements."""

import numpy as np
import pytest
from scipy import ndimage

from PercutaneousOsteosynthesisLib.geometry.morphology import close, dilate, erode


def _element(r):
    """The structuring element dilate() builds: alternate cross and cube unit steps (scipy's own iteration)."""
    size = 2 * max(r) + 1
    e = np.zeros((size,) * 3, bool)
    c = max(r)
    e[c, c, c] = True
    cross = ndimage.generate_binary_structure(3, 1)
    for step in range(max(r)):
        axes = [ax for ax in range(3) if step < r[ax]]
        if step % 2 == 0:
            st = np.zeros((3, 3, 3), bool)
            st[1, 1, 1] = True
            for ax in axes:
                idx = [1, 1, 1]
                for v in (0, 2):
                    idx[ax] = v
                    st[tuple(idx)] = True
            e = ndimage.binary_dilation(e, st)
        else:
            for ax in axes:
                st = np.zeros((3, 3, 3), bool)
                idx = [1, 1, 1]
                for v in (0, 1, 2):
                    idx[ax] = v
                    st[tuple(idx)] = True
                e = ndimage.binary_dilation(e, st)
    assert cross.shape == (3, 3, 3)
    return e


def test_dilate_erode_close_match_scipy():
    rng = np.random.default_rng(0)
    m = ndimage.gaussian_filter(rng.random((30, 34, 38)), 2) > 0.52
    for r in [(1, 1, 1), (2, 2, 2), (3, 3, 1), (1, 2, 3)]:
        el = _element(r)
        assert np.array_equal(dilate(m, r), ndimage.binary_dilation(m, el))
        assert np.array_equal(erode(m, r), ndimage.binary_erosion(m, el, border_value=0))
        assert np.array_equal(close(np.pad(m, 8), r), ndimage.binary_closing(np.pad(m, 8), el))


def test_radius_two_lies_between_two_balls():
    el = _element((2, 2, 2))
    z, y, x = np.mgrid[-2:3, -2:3, -2:3]
    d2 = x * x + y * y + z * z
    assert el[d2 <= 4].all()  # contains the ball of radius 2
    assert not el[d2 > 6].any()  # inside the ball of radius sqrt(6)


def test_slice_majority_fill_matches_per_slice_scipy():
    from PercutaneousOsteosynthesisLib.geometry.morphology import slice_majority_holes

    rng = np.random.default_rng(1)
    m = np.pad(ndimage.gaussian_filter(rng.random((40, 50, 60)), 2) > 0.5, 3)
    votes = np.zeros(m.shape, np.uint8)
    for axis in range(3):
        moved = np.moveaxis(m, axis, 0)
        filled = np.stack([ndimage.binary_fill_holes(sl) for sl in moved])
        votes += np.moveaxis(filled, 0, axis)
    expected = (votes >= 2) & ~m
    assert expected.sum() > 100
    assert np.array_equal(slice_majority_holes(m), expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slice_holes_match_per_slice_scipy(axis):
    """The slices laid out as one 2D image (one labelling) give each slice's own holes, on a mask touching the edges."""
    from PercutaneousOsteosynthesisLib.geometry.morphology import slice_holes

    rng = np.random.default_rng(2)
    m = ndimage.gaussian_filter(rng.random((23, 31, 17)), 1.5) > 0.5
    moved = np.moveaxis(m, axis, 0)
    expected = np.moveaxis(np.stack([ndimage.binary_fill_holes(sl) & ~sl for sl in moved]), 0, axis)
    assert expected.sum() > 10
    out = slice_holes(m, axis)
    assert out.flags.c_contiguous and np.array_equal(out, expected)
