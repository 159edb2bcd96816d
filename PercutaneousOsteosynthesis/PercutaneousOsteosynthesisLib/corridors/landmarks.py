"""The pelvic landmarks the pathway searches start from, found from the bone model alone (LPS mm).

- femoral heads: the recognised heads (bone.femoral_head), with the anatomical neck axis;
- sacral levels S1 and S2: the centres of the S1 and S2 foramina found in the CT (bone.nogo), both sides averaged and
  moved onto the midline; the sacral axis runs from the S2 to the S1 level;
- per hip bone (a separate bone of the model, or one side of a pelvic ring without its sacrum), relative to the
  acetabulum's centre (the femoral head's): the anterior inferior iliac spine (AIIS, the
  most anterior bone ``AIIS_LEVEL_MM`` above the acetabulum and not medial to it), the posterior superior iliac
  spine (PSIS, the most posterior bone higher than ``PSIS_MIN_HEIGHT_MM``), the superior pubic ramus (bone in front
  of and medial to the acetabulum, ``RAMUS_LEVEL_MM``: its centroid and principal axis) and the ischial tuberosity
  (the lowest bone behind the acetabulum's centre); an extreme point is the centroid of the bone within
  ``EXTREME_MM`` of the extreme;
- the sacroiliac joints: the centre of each side's joint gap (bone model label JOINT).
What cannot be found is left out (None); the pathways that need it then say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AIIS_LEVEL_MM = (20.0, 50.0)
PSIS_MIN_HEIGHT_MM = 40.0
RAMUS_LEVEL_MM = (-30.0, 15.0)
RING_LATERAL_MM = 45.0
SACRUM_BEHIND_MM = 15.0
EXTREME_MM = 2.0
MIN_PART_ML = 0.5


@dataclass
class SideLandmarks:
    head_centre_lps: np.ndarray | None = None
    head_radius_mm: float | None = None
    neck_axis_lps: np.ndarray | None = None  # unit, from the head centre toward the neck
    aiis_lps: np.ndarray | None = None
    psis_lps: np.ndarray | None = None
    ramus: tuple | None = None  # (centroid, unit axis pointing laterally)
    tuberosity_lps: np.ndarray | None = None  # the ischial tuberosity: the lowest bone behind the acetabulum
    si_joint_lps: np.ndarray | None = None  # centre of the sacroiliac joint gap


@dataclass
class PelvisLandmarks:
    midline_x: float
    sides: dict = field(default_factory=dict)  # "left"/"right" -> SideLandmarks
    sacral_levels: dict = field(default_factory=dict)  # "S1"/"S2" -> LPS point on the midline
    sacral_axis_lps: np.ndarray | None = None  # unit, from S2 toward S1 (up the sacrum)


def sign_of(side: str) -> float:
    """+1 for the patient's left (LPS +x), -1 for the right."""
    return 1.0 if side == "left" else -1.0


def _principal_axis(pts: np.ndarray) -> np.ndarray:
    c = pts - pts.mean(axis=0)
    return np.linalg.eigh(c.T @ c)[1][:, -1]


def hip_bone_points_lps(bone, side: str, midline_x: float, head_centre_lps) -> np.ndarray | None:
    """LPS centres of the voxels of the hip bone of ``side`` (None when it is not found); in a pelvic ring, the ring
    on that side of the midline without the sacrum (within ``RING_LATERAL_MM`` of the midline and more than
    ``SACRUM_BEHIND_MM`` behind the acetabulum's centre), so that the pubic rami stay."""
    if bone.component_labels is None:
        return None
    comp = next((c for c in bone.components if c.get("kind") == "hip bone" and c.get("side") == side), None)
    ring = next((c for c in bone.components if c.get("kind") == "pelvic ring"), None)
    use = comp or ring
    if use is None:
        return None
    pts = bone.component_points_lps(use)
    if comp is None:  # a pelvic ring: this side of the midline, without the sacrum
        dx = sign_of(side) * (pts[:, 0] - midline_x)
        sacrum = (dx < RING_LATERAL_MM) & (pts[:, 1] > head_centre_lps[1] + SACRUM_BEHIND_MM)
        pts = pts[(dx > 0) & ~sacrum]
    return pts if len(pts) else None


def _part(pts: np.ndarray, keep: np.ndarray, voxel_mm3: float, lateral_sign: float) -> tuple | None:
    sel = pts[keep]
    if len(sel) * voxel_mm3 < MIN_PART_ML * 1000.0:
        return None
    axis = _principal_axis(sel)
    if lateral_sign * axis[0] < 0:
        axis = -axis
    return sel.mean(axis=0), axis


def side_landmarks(bone, side: str, head, midline_x: float) -> SideLandmarks:
    """The landmarks of one side (``head``: bone.femoral_head.FemoralHead or None)."""
    from ..bone.femoral_head import neck_axis_lps
    from ..errors import PosteoInputError

    out = SideLandmarks()
    if head is None:
        return out
    c = np.asarray(head.centre_lps, float)
    out.head_centre_lps, out.head_radius_mm = c, float(head.radius_mm)
    try:
        out.neck_axis_lps = neck_axis_lps(bone, head)
    except PosteoInputError:
        pass
    pts = hip_bone_points_lps(bone, side, midline_x, c)
    if pts is not None:
        hip_bone_landmarks(out, pts, side, bone.geometry.voxel_volume_mm3)
    return out


def _extreme(pts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Centroid of the points within ``EXTREME_MM`` of the largest value (a flat face gives its middle, not a corner)."""
    return pts[values >= values.max() - EXTREME_MM].mean(axis=0)


def hip_bone_landmarks(out: SideLandmarks, pts: np.ndarray, side: str, voxel_mm3: float) -> None:
    """Set the AIIS, PSIS, superior ramus and ischial tuberosity of ``out`` (whose head is set) from the LPS points
    filling the hip bone of ``side`` (see module doc)."""
    c, r, s = out.head_centre_lps, out.head_radius_mm, sign_of(side)
    dz = pts[:, 2] - c[2]
    band = (dz >= AIIS_LEVEL_MM[0]) & (dz <= AIIS_LEVEL_MM[1]) & (s * (pts[:, 0] - c[0]) > -r)
    if band.any():
        out.aiis_lps = _extreme(pts[band], -pts[band, 1])
    high = dz >= PSIS_MIN_HEIGHT_MM
    if high.any():
        out.psis_lps = _extreme(pts[high], pts[high, 1])
    ramus = (pts[:, 1] < c[1] - r - 5.0) & (s * (pts[:, 0] - c[0]) < -r) & (dz >= RAMUS_LEVEL_MM[0]) & (dz <= RAMUS_LEVEL_MM[1])
    out.ramus = _part(pts, ramus, voxel_mm3, lateral_sign=s)
    behind = pts[:, 1] > c[1]
    if behind.any():
        out.tuberosity_lps = _extreme(pts[behind], -pts[behind, 2])


def find_landmarks(bone) -> PelvisLandmarks:
    """All landmarks of the bone model (see module doc)."""
    from ..bone.components import midline_x_lps
    from ..bone.femoral_head import recognised_heads
    from ..bone.labels import JOINT

    mid = midline_x_lps(bone)
    out = PelvisLandmarks(mid)
    heads = recognised_heads(bone)
    joint = np.argwhere(bone.labels == JOINT)
    joint_lps = bone.geometry.ijk_to_lps(joint[:, ::-1].astype(float)) if len(joint) else np.zeros((0, 3))
    for side in ("left", "right"):
        out.sides[side] = side_landmarks(bone, side, heads.get(side), mid)
        own = joint_lps[sign_of(side) * (joint_lps[:, 0] - mid) > 0]
        if len(own):
            out.sides[side].si_joint_lps = own.mean(axis=0)
    for level in ("S1", "S2"):
        centres = [n.points_lps.mean(axis=0) for n in bone.nogo_structures() if n.name.endswith(f"{level} foramen")]
        if len(centres) == 2:
            p = np.mean(centres, axis=0)
            p[0] = mid
            out.sacral_levels[level] = p
    if {"S1", "S2"} <= set(out.sacral_levels):
        v = out.sacral_levels["S1"] - out.sacral_levels["S2"]
        out.sacral_axis_lps = v / np.linalg.norm(v)
    return out
