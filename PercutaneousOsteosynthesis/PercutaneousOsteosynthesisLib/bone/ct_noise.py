"""The noise of a CT (HU), measured in its soft tissue: what a lesion is told from its surroundings by
(``lesions.noise``), and what tells a homogeneous contrast-filled vessel from textured cancellous bone (``bone.contrast``).
"""

from __future__ import annotations

import numpy as np

SOFT_TISSUE_RANGE_HU = (-200.0, 200.0)  # fat and muscle: homogeneous tissues whose neighbours differ by noise alone


def noise_sd_hu(hu: np.ndarray, soft: np.ndarray) -> float:
    """Standard deviation (HU) of the noise, from the differences of neighbouring voxels (each axis) that both lie in
    ``soft`` (non-bone voxels) and in ``SOFT_TISSUE_RANGE_HU``: 1.4826 times their median absolute deviation, over
    the square root of 2 (a difference holds two voxels' noise). Edges between fat and muscle are a minority of the
    pairs and do not move the median; noise correlated between neighbours (a smooth kernel, an interpolated axis)
    reads lower. 0 when fewer than 1000 pairs."""
    lo, hi = SOFT_TISSUE_RANGE_HU
    ok = soft & (hu > lo) & (hu < hi)
    diffs = []
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(1, None), slice(None, -1)
        both = ok[tuple(a)] & ok[tuple(b)]
        diffs.append((hu[tuple(a)] - hu[tuple(b)])[both])
    d = np.concatenate(diffs)
    if len(d) < 1000:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))
