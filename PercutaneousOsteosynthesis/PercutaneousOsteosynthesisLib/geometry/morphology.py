"""Fast binary morphology on numpy boolean arrays by shifted ORs (memory-bound, ~0.1 s per step on 70 M voxels).

The structuring element of radius r (voxels, per axis) is built by alternating 6-connected (cross) and
26-connected (cube) unit steps (radius 2: between the balls of radius 2 and sqrt 6); an axis takes part in the
first ``r[axis]`` steps only, so anisotropic voxels get anisotropic radii.  Voxels beyond the array count as
background.  ``slice_holes``: the holes of a mask in its 2D slices (a labelling, not a shift); ``slice_majority_holes``:
those enclosed in two of the three orientations; ``close_ball_mm``: a closing by an exact Euclidean ball in mm
(distance transforms).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _shift_or(src: np.ndarray, dst: np.ndarray, axis: int) -> None:
    """dst |= src shifted by +1 and -1 along axis."""
    a = [slice(None)] * 3
    b = [slice(None)] * 3
    a[axis], b[axis] = slice(1, None), slice(None, -1)
    dst[tuple(a)] |= src[tuple(b)]
    dst[tuple(b)] |= src[tuple(a)]


def _shift_and(src: np.ndarray, dst: np.ndarray, axis: int) -> None:
    """dst &= src shifted by +1 and -1 along axis, with background beyond the array (the end layers cleared)."""
    a = [slice(None)] * 3
    b = [slice(None)] * 3
    a[axis], b[axis] = slice(1, None), slice(None, -1)
    dst[tuple(a)] &= src[tuple(b)]
    dst[tuple(b)] &= src[tuple(a)]
    for end in (0, -1):
        a[axis] = end
        dst[tuple(a)] = False


def _steps(mask: np.ndarray, radius, shift, in_place: bool = False) -> np.ndarray:
    """The alternating cross and cube steps (see module doc) of ``shift`` (``_shift_or`` or ``_shift_and``), on a copy
    of the mask or (``in_place``, a bool array) on the mask itself; one scratch array holds each step's source."""
    r = np.broadcast_to(np.asarray(radius, int), (3,))
    out = mask if in_place else mask.astype(bool, copy=True)
    scratch = np.empty_like(out)
    for step in range(int(r.max())):
        axes = [ax for ax in range(3) if step < r[ax]]
        if step % 2 == 0:  # cross: every neighbour along one axis, from the same source
            np.copyto(scratch, out)
            for ax in axes:
                shift(scratch, out, ax)
        else:  # cube: separable, each axis from the previous result
            for ax in axes:
                np.copyto(scratch, out)
                shift(scratch, out, ax)
    return out


def dilate(mask: np.ndarray, radius) -> np.ndarray:
    """Dilation of a [k, j, i] mask; ``radius`` in voxels, one int or (k, j, i)."""
    return _steps(mask, radius, _shift_or)


def ball_radius_voxels(mm: float, spacing) -> list[int]:
    """Per-axis radius in whole voxels (at least 1) of a ball of ``mm`` on a grid of this spacing (same axis order)."""
    return [max(1, int(round(mm / s))) for s in spacing]


def erode(mask: np.ndarray, radius) -> np.ndarray:
    """Erosion (the dual of :func:`dilate`); voxels near the array border erode as if background lay beyond it."""
    return _steps(mask, radius, _shift_and)


def close(mask: np.ndarray, radius) -> np.ndarray:
    """Closing (dilation then erosion); pad the mask by ``radius`` first if objects touch its border."""
    return _steps(dilate(mask, radius), radius, _shift_and, in_place=True)


def close_ball_mm(mask: np.ndarray, radius_mm: float, spacing_kji) -> np.ndarray:
    """``mask`` closed by an exact Euclidean ball of ``radius_mm`` (distance transforms with the voxel spacing); beyond
    the array the mask counts as present for the erosion (no false shrinking at the border)."""
    from scipy import ndimage

    dilated = ndimage.distance_transform_edt(~mask, sampling=spacing_kji) <= radius_mm
    return (ndimage.distance_transform_edt(dilated, sampling=spacing_kji) > radius_mm) | mask


def slice_holes(m: np.ndarray, axis: int) -> np.ndarray:
    """Background voxels enclosed by the mask in their 2D slice normal to ``axis``: the regions of a slice's background
    (in-plane 4-connected) not touching the slice's edge.  One labelling (SimpleITK's, multithreaded) finds every
    slice's regions: the slices are laid one below the other as one 2D image, where a region meets the next slice's
    only across their edge rows, and regions touching an edge are not holes anyway."""
    import SimpleITK as sitk

    moved = np.moveaxis(m, axis, 0)
    k, h, w = moved.shape
    if moved.size == 0:
        return np.zeros(m.shape, bool)
    background = np.empty((k, h, w), np.uint8)
    np.logical_not(moved, out=background.view(bool))
    labelling = sitk.ConnectedComponentImageFilter()  # face connectivity
    labels = labelling.Execute(sitk.GetImageFromArray(background.reshape(k * h, w)))
    del background
    lab = sitk.GetArrayViewFromImage(labels).reshape(k, h, w)
    hole = np.ones(labelling.GetObjectCount() + 1, bool)
    hole[0] = False  # the mask itself
    for edge in (lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1]):
        hole[edge.ravel()] = False
    out = hole[lab]
    return out if axis == 0 else np.ascontiguousarray(np.moveaxis(out, 0, axis))


def slice_majority_holes(m: np.ndarray) -> np.ndarray:
    """Background voxels enclosed by the mask in the 2D slices of at least two of the three orientations.

    A lytic defect through a thin (osteoporotic) cortex opens the shell in 3D, yet most slices through the bone
    still show a closed ring; tunnels (spinal canal, sacral foramina) and bowls (acetabulum, the pelvic ring seen
    from above) are enclosed in one orientation only, so they stay open.  The third orientation is read only in the
    slices holding voxels that the first two disagree on.  The first two run at once (a worker thread: the labelling
    and numpy release the GIL)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(slice_holes, m, 1)
        first = slice_holes(m, 0)
        second = job.result()
    out = first & second
    undecided = np.logical_xor(first, second, out=first)
    i = np.flatnonzero(undecided.any(axis=(0, 1)))
    if len(i):
        span = slice(int(i[0]), int(i[-1]) + 1)
        out[:, :, span] |= undecided[:, :, span] & slice_holes(m[:, :, span], 2)
    return out
