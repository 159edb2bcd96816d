"""Exact Euclidean distance transforms (mm) of binary masks on anisotropic grids.

Two implementations give the same squared distances (float32; exact squared distances between voxel centres, which
both compute in floating point to the last bit or two):
- the ``edt`` package (Seung lab, C++), when it is installed: about twice as fast as SimpleITK's on the bone model's
  grids (3.5 s against 6.4-9.5 s for the outside of the pelvis on 512x512x400 voxels, on one core);
- SimpleITK's Maurer transform otherwise (Slicer's Python bundles SimpleITK, not ``edt``; ``pip install edt`` in
  Slicer's Python console makes it available there).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

try:  # optional accelerator, never required
    import edt as _edt
except ImportError:  # pragma: no cover - depends on the environment
    _edt = None


def fast_transform_available() -> bool:
    """Whether the ``edt`` package is used."""
    return _edt is not None


def squared_depth_mm2(mask: np.ndarray, spacing_kji, use_edt: bool | None = None) -> np.ndarray:
    """Squared distance (mm², float32, ``[k, j, i]``) from each voxel of a bool mask to the nearest voxel centre outside
    it; 0 outside the mask.  Voxels beyond the array do not count as outside (as in
    ``scipy.ndimage.distance_transform_edt(mask, sampling) ** 2``).  A mask without any voxel outside it gets the
    largest float32 distance.  ``use_edt``: force one implementation (None: ``edt`` when installed)."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    sp = tuple(float(s) for s in spacing_kji)
    if mask.all():
        return np.full(mask.shape, np.finfo(np.float32).max, np.float32)
    if (_edt is not None) if use_edt is None else use_edt:
        return _edt.edtsq(mask, anisotropy=sp, black_border=False, parallel=1)
    img = sitk.GetImageFromArray(mask.view(np.uint8))
    img.SetSpacing(sp[::-1])
    # the mask is the transform's "background": its voxels get their distance to the nearest voxel of the other value
    # (positive; the other side's values are not distances to the mask and are clipped); squared is ~30 % faster
    out = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=True,
                                                               useImageSpacing=True, backgroundValue=1))
    return np.maximum(out, 0.0, out=out)


def squared_distance_across_mm2(mask: np.ndarray, spacing_kji, parallel: int = 2) -> np.ndarray:
    """Squared distance (mm², float32, ``[k, j, i]``) from each voxel of a bool mask to the nearest voxel centre outside
    it, and from each voxel outside it to the nearest voxel centre of the mask: both sides in one pass of the ``edt``
    package (its two labels' transform), on ``parallel`` threads; only when :func:`fast_transform_available`.  Voxels
    beyond the array count as neither."""
    if _edt is None:
        raise RuntimeError("the edt package is not installed")
    two = np.ascontiguousarray(mask, dtype=bool).view(np.uint8) + np.uint8(1)  # 1 outside, 2 inside: no background
    return _edt.edtsq(two, anisotropy=tuple(float(s) for s in spacing_kji), black_border=False, parallel=parallel)
