"""Growing a lesion from its seed: connected abnormal voxels cut from thin bridges, and the lytic threshold set by
contrast with the lesion's own surroundings (osteoporotic cancellous bone may itself read below 100 HU)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def ball(shape, centre_kji, radius_mm, spacing_kji) -> np.ndarray:
    """Mask of the voxels of an array of ``shape`` within ``radius_mm`` of ``centre_kji`` (spacing k, j, i in mm)."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre_kji, spacing_kji))
    return d2 <= radius_mm ** 2


def grow(abnormal, seed_ball, sp, opening_mm) -> np.ndarray:
    """Components of ``abnormal`` meeting ``seed_ball``, cut from neighbours joined by bridges thinner than the opening."""
    r = [max(1, int(round(opening_mm / s))) for s in sp]
    st = ball(tuple(2 * v + 1 for v in r), r, max(opening_mm, max(sp)) + 1e-6, sp)
    core = ndimage.binary_erosion(abnormal, structure=st) if opening_mm > 0 else abnormal
    lab, _ = ndimage.label(core)
    ids = np.unique(lab[seed_ball & core])
    ids = ids[ids > 0]
    if len(ids) == 0:  # a lesion thinner than the opening: plain connectivity
        lab, _ = ndimage.label(abnormal)
        ids = np.unique(lab[seed_ball & abnormal])
        ids = ids[ids > 0]
        return np.isin(lab, ids) if len(ids) else np.zeros_like(abnormal)
    grown = ndimage.binary_dilation(np.isin(lab, ids), structure=st) & abnormal
    lab, _ = ndimage.label(grown)
    ids = np.unique(lab[seed_ball & grown])
    return np.isin(lab, ids[ids > 0])


def lytic_range(hu, seed_mean: float, params) -> np.ndarray:
    """Voxels whose HU a lytic lesion seeded at ``seed_mean`` may have: within ``tolerance_hu`` of it and above
    ``fat_max_hu`` (fat is never lesion)."""
    return (np.abs(hu - seed_mean) <= params.tolerance_hu) & (hu > params.fat_max_hu)


CONTRAST_RIM_MM = 4.0  # the lesion's surroundings: the cancellous bone within this distance of it
MIN_CONTRAST_HU = 30.0  # below this a lytic lesion is not told from its surroundings


def contrast_threshold(hu, mask, cancellous, seed_ball, seed_mean: float, sp, params, first_guess=None) -> float:
    """The lytic threshold half-way between the lesion's core (``seed_mean``) and the cancellous bone around it,
    refined twice on the rim of the lesion found with it; the configured threshold when there is no contrast.
    ``first_guess``: the cancellous voxels whose median is the first guess of the surroundings (default
    ``cancellous``); on a coarse CT, those away from the cortex, whose averaged voxels would raise it."""
    # first guess of the surroundings: the box's cancellous bone outside the seed ball (the lesion is a small part)
    around = (cancellous if first_guess is None else first_guess) & ~seed_ball
    if around.sum() < 50:
        return params.lytic_threshold_hu
    background = float(np.median(hu[around]))
    threshold = params.lytic_threshold_hu
    for _ in range(2):
        if background - seed_mean < MIN_CONTRAST_HU:
            break
        threshold = min(params.lytic_threshold_hu, 0.5 * (seed_mean + background))
        lytic = ndimage.binary_fill_holes((hu < threshold) & lytic_range(hu, seed_mean, params) & (cancellous | mask))
        grown = grow(lytic, seed_ball, sp, params.opening_radius_mm)
        rim = (ndimage.distance_transform_edt(~grown, sampling=sp) <= CONTRAST_RIM_MM) & ~grown & cancellous
        if rim.sum() < 20:
            break
        background = float(np.median(hu[rim]))
    return float(threshold)
