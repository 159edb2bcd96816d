"""The hip joint's cartilage space as a no-go structure (LPS mm): a screw or cement entering it is intra-articular.

Found from the bone model, not assumed: around each recognised femoral head (``bone.femoral_head``), along
``N_DIRECTIONS`` directions spread evenly over the sphere, the signed distance field is read outward from the head's
surface; where bone resumes (the acetabulum) within ``MAX_JOINT_SPACE_MM``, the radial run between the head and the
acetabulum is joint space. Directions with no bone that close (the neck, the uncovered head) hold none. The space is
kept as one point per direction in the middle of its run, with the run's half width, so that the clearance of a
screw to it (bone.nogo's ``NogoStructure.clearance_mm``) is measured to the cartilage space itself.
"""

from __future__ import annotations

import numpy as np

from ..geometry.vectors import sphere_directions
from .nogo import ARTICULAR, NogoStructure

N_DIRECTIONS = 4000
MAX_JOINT_SPACE_MM = 6.0
RADIAL_STEP_MM = 0.5


def joint_space_lps(bone, centre_lps, radius_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(LPS mid-points, half widths in mm) of the cartilage space between a femoral head (centre, radius) and the
    acetabulum, one per covered direction."""
    dirs = sphere_directions(N_DIRECTIONS)
    rho = radius_mm + np.arange(0.0, MAX_JOINT_SPACE_MM + RADIAL_STEP_MM, RADIAL_STEP_MM)
    pts = np.asarray(centre_lps, float) + dirs[:, None, :] * rho[None, :, None]
    inside = bone.signed_distance_lps(pts.reshape(-1, 3)).reshape(len(dirs), len(rho)) < 0.0
    gap = ~inside
    # the run outside bone starting at (or just beyond) the head surface, closed by bone further out
    start = np.argmax(gap, axis=1)
    has_gap = gap.any(axis=1)
    after = np.where(np.arange(len(rho))[None, :] > start[:, None], inside, False)
    covered = has_gap & after.any(axis=1)
    stop = np.argmax(after, axis=1)
    # the run covers samples start..stop-1: from half a step before the first to half a step after the last
    inner = rho[start] - 0.5 * RADIAL_STEP_MM
    outer = rho[np.maximum(stop - 1, start)] + 0.5 * RADIAL_STEP_MM
    mid = 0.5 * (inner + outer)[covered]
    return np.asarray(centre_lps, float) + dirs[covered] * mid[:, None], 0.5 * (outer - inner)[covered]


def find_hip_joints(bone, heads: dict) -> list[NogoStructure]:
    """One no-go structure per recognised femoral head (``heads``: bone.femoral_head.recognised_heads):
    "left hip joint", "right hip joint"."""
    out = []
    for side, head in heads.items():
        pts, half = joint_space_lps(bone, head.centre_lps, head.radius_mm)
        if len(pts) >= 20:
            out.append(NogoStructure(f"{side} hip joint", pts, float(half.max()), kind=ARTICULAR, half_widths_mm=half))
    return out
