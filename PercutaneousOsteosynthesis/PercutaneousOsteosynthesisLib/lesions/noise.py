"""The CT's noise around a lesion, and the HU a lesion is told from its surroundings by on a noisy CT.

A lytic lesion in osteoporotic bone (20-40 HU against cancellous bone of 50-150 HU) differs from its surroundings by
about 60 HU. Thin-slice CTs of the pelvis carry 20-50 HU of noise (a large patient, a low dose): at 45 HU a quarter
of the lesion's voxels read as bone and a quarter of the bone's as lesion, the opening that cuts thin bridges cuts the
lesion itself apart, and the segmentation collapsed (0.2 mL found of a 3 mL lesion on the elderly phantom). Where the
noise is above ``NOISY_ABOVE_HU``, voxels are classified on the median of their 3 x 3 x 3 neighbourhood, which keeps
edges (a cortex is not spread into the lesion beside it) and divides white noise by about 4; the partial-volume edge
and the lesion's HU statistics still read the CT itself (a sum of fractions averages the noise out).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..bone.ct_noise import noise_sd_hu

NOISY_ABOVE_HU = 25.0


def classification_hu(hu: np.ndarray, soft: np.ndarray) -> tuple[np.ndarray, float]:
    """(the HU to classify lesion voxels by, the noise's standard deviation in HU): the CT itself, or on a noisy CT
    (above ``NOISY_ABOVE_HU``) its 3 x 3 x 3 median."""
    sd = noise_sd_hu(hu, soft)
    if sd <= NOISY_ABOVE_HU:
        return hu, sd
    return ndimage.median_filter(hu, size=3, mode="nearest"), sd
