"""2 x 2 x 2 blocks (geometry.resample) and the joint plates (bone.joints) against their plain definitions."""

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.joints import _plates
from PercutaneousOsteosynthesisLib.geometry.resample import block_max, unblock


def _plates_by_definition(hu, axis, reach):
    """The darker of the brightest voxels within ``reach`` before and after each voxel (-1000 at least)."""
    moved = np.moveaxis(np.asarray(hu, np.float32), axis, -1)
    n = moved.shape[-1]
    out = np.empty(moved.shape, np.float32)
    for i in range(n):
        before = np.max(moved[..., max(0, i - reach):i], axis=-1, initial=-1000.0)
        after = np.max(moved[..., i + 1:i + 1 + reach], axis=-1, initial=-1000.0)
        out[..., i] = np.minimum(before, after)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_plates_match_definition(dtype):
    rng = np.random.default_rng(3)
    for _ in range(20):
        hu = rng.normal(0.0, 800.0, tuple(rng.integers(1, 10, 3))).astype(dtype)  # values below -1000 too
        for axis in range(3):
            for reach in (1, 2, 3, 4, 5, 7, 12):
                out = _plates(hu, axis, reach)
                assert out.dtype == np.float32 and np.array_equal(out, _plates_by_definition(hu, axis, reach))


@pytest.mark.parametrize("dtype", [bool, np.int16, np.float32])
def test_blocks_match_definition(dtype):
    rng = np.random.default_rng(4)
    for _ in range(20):
        shape = tuple(int(v) for v in rng.integers(1, 9, 3))
        a = (rng.normal(0.0, 5.0, shape) > 0) if dtype is bool else rng.normal(0.0, 5.0, shape).astype(dtype)
        b = block_max(a)
        assert b.dtype == a.dtype and b.shape == tuple((n + 1) // 2 for n in shape)
        for idx in np.ndindex(b.shape):
            assert b[idx] == a[tuple(slice(2 * v, 2 * v + 2) for v in idx)].max()
        back = unblock(b, shape)
        assert back.shape == shape and back.flags.writeable
        assert np.array_equal(back, b[np.ix_(*[np.arange(n) // 2 for n in shape])])
