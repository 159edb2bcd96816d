"""The labels of a bone model's label map (``BoneModel.labels``), defined once."""

from __future__ import annotations

BACKGROUND, CORTEX, CANCELLOUS, METAL, JOINT = 0, 1, 2, 3, 4
LABEL_NAMES = {BACKGROUND: "outside bone", CORTEX: "cortex", CANCELLOUS: "cancellous", METAL: "metal", JOINT: "sacroiliac joint"}
SOFT_TISSUE_HU = 45.0  # muscle: the outside level of a bone edge
BONE_LABELS = (CORTEX, CANCELLOUS, METAL)  # the bone envelope (joints are crossable gaps, not bone)
