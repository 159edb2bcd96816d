"""Contrast-enhanced soft tissue that reads as bone: iliac vessels, the bladder and bowel after contrast.

Staging CTs are contrast-enhanced: arteries and veins read 150-450 HU, the opacified bladder 300-600 HU, above the bone
threshold. Such a structure next to the pelvic wall (the external iliac vessels along the pelvic brim and the
quadrilateral plate, the obturator vessels under the superior ramus) became a "bone" of its own: a screw leaving the
hip bone into the vessel read as entering bone again, and a bladder full of contrast was the largest bone of the scan.

On a native grid (no axis above ``bone.ct_quality.RESAMPLE_ABOVE_MM``) every bone shows cortex: its outer shell reaches
the cortex threshold in at least some voxels (a 1 mm cortex of 900 HU reads 600-900 HU in 1 mm voxels, and dense bone
far more). A candidate component with fewer than ``MIN_CORTEX_FRACTION`` of its voxels at the cortex threshold is
soft tissue. On a coarse CT a thin cortex averaged with marrow reads as low as contrast does, and the rule would take
bone: it is not applied there.

Not handled yet: contrast so close to bone that the partial volume of the gap joins it to the bone's component. It is
then part of that bone. Measured on the elderly phantom at 1 mm: a 300 HU vessel 1 mm from the medial acetabular wall
stays separate on an axis-aligned grid and on the left of an oblique one, and is joined to the right hip bone on the
oblique grid (85 % of its voxels read as bone); at 450 HU and 0.5 mm it is joined on an axis-aligned grid too.
"""

from __future__ import annotations

import numpy as np

MIN_CORTEX_FRACTION = 0.01


def contrast_components(labels_cc: np.ndarray, hu: np.ndarray, cortex_threshold_hu: float) -> dict[int, int]:
    """{label: voxel count} of the components of ``labels_cc`` (candidate bone, 1..n, 0 background) with fewer than
    ``MIN_CORTEX_FRACTION`` of their voxels at or above ``cortex_threshold_hu`` in ``hu`` (the CT on the same grid)."""
    n = int(labels_cc.max())
    if n == 0:
        return {}
    # per slice: the whole grid's labels widened to int64 at once would cost 8 bytes per voxel
    size = np.zeros(n + 1, np.int64)
    dense = np.zeros(n + 1, np.int64)
    for lab, h in zip(labels_cc, hu):
        size += np.bincount(lab.ravel(), minlength=n + 1)
        dense += np.bincount(lab[h >= cortex_threshold_hu], minlength=n + 1)
    frac = dense[1:] / np.maximum(size[1:], 1)
    return {int(v) + 1: int(size[v + 1]) for v in np.flatnonzero(frac < MIN_CORTEX_FRACTION)}


def contrast_note(volume_ml: float) -> str:
    """The report's line on the candidate bone left out as contrast (``BoneModel.contrast_ml``)."""
    return (f"{volume_ml:.1f} mL above the bone threshold without cortex (contrast-enhanced vessels, bladder or bowel) "
            "was left out of the bone")
