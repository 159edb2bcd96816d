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
- the sacroiliac joints: the centre of each side's joint gap (bone model label JOINT);
- without both levels' foramina (a real sacrum's canal and foramina form one network of soft tissue), the S1 and S2
  corridors' centres from the sacroiliac joints, which flank the S1 and S2 bodies: over the joints' height (S1 in its
  upper ``SI_S1_SPLIT``, S2 below) and from ``SI_LEVEL_AHEAD_MM`` in front of them to their back, the left-right
  line between the joints (``SI_LINE_INSET_MM`` short of each) that stays deepest in bone, moved onto the midline;
  not on a CT coarser than the bone model's resampling limit, whose model closes the foramina (a corridor could then
  run through one unseen).
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
SI_S1_SPLIT = 0.55  # S1 in the upper part of the sacroiliac joints' height (this fraction from the top), S2 below
SI_LINE_INSET_MM = 10.0  # the left-right lines probed stop this far short of the joints
SI_LEVEL_AHEAD_MM = 30.0  # and are probed up to this far in front of the joints (the sacral bodies)
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
    # without both levels' foramina: the S1 and S2 corridors' centres on the midline, from the sacroiliac joints
    sacral_centres: dict = field(default_factory=dict)
    sacral_reason: str = ""  # why there are neither (empty when there are)
    sacral_level_reasons: dict = field(default_factory=dict)  # "S1"/"S2" -> why that level has no centre from the joints


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
    from ..bone.ct_quality import TUNNELS_RESOLVED_MAX_MM, sacral_tunnels_resolved
    from ..bone.femoral_head import recognised_heads
    from ..bone.labels import JOINT
    from ..geometry.voxel_index import nonzero_kji

    mid = midline_x_lps(bone)
    out = PelvisLandmarks(mid)
    heads = recognised_heads(bone)
    joint = nonzero_kji(bone.labels == JOINT)
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
    elif not sacral_tunnels_resolved(bone.ct_geometry.spacing):  # the model closes the foramina: a corridor could cross one
        out.sacral_reason = (f"on a CT coarser than {TUNNELS_RESOLVED_MAX_MM:g} mm the sacral foramina are not resolved, so no "
                             "sacral pathway is proposed")
    else:
        out.sacral_centres = sacral_centres_from_joints(bone, joint_lps, mid, out.sacral_level_reasons) if len(joint_lps) else {}
        if len(out.sacral_centres) == 2:
            v = out.sacral_centres["S1"] - out.sacral_centres["S2"]
            out.sacral_axis_lps = v / np.linalg.norm(v)
        elif not out.sacral_level_reasons:  # (a level not found from the joints has its own reason)
            out.sacral_reason = ("no S1 and S2 foramina found in the CT, and no sacroiliac joints to place the levels "
                                 "(the sacrum is not a separate bone)")
    return out


def sacral_centres_from_joints(bone, joint_lps: np.ndarray, midline_x: float, reasons: dict | None = None) -> dict:
    """{"S1", "S2"} -> LPS centre of that level's corridor on the midline, from the sacroiliac joints' points (see
    module doc); empty when a side has no joint, without a level where no line between the joints stays in bone
    (``reasons`` then receives that level's: its height and how far the deepest line leaves the bone)."""
    sides = [joint_lps[sign * (joint_lps[:, 0] - midline_x) > 0] for sign in (1.0, -1.0)]
    if min(len(p) for p in sides) < 50:
        return {}
    reach = float(np.median(np.abs(joint_lps[:, 0] - midline_x))) - SI_LINE_INSET_MM
    top, bottom = np.percentile(joint_lps[:, 2], 95), np.percentile(joint_lps[:, 2], 5)
    ys = np.arange(joint_lps[:, 1].min() - SI_LEVEL_AHEAD_MM, joint_lps[:, 1].max() + 1e-9, 1.0)
    zs = np.arange(bottom, top + 1e-9, 1.0)
    xs = midline_x + np.arange(-reach, reach + 1e-9, 1.0)
    if reach <= 0 or len(zs) < 4:
        return {}
    y, z, x = np.meshgrid(ys, zs, xs, indexing="ij")
    sdf = bone.signed_distance_lps(np.column_stack([x.ravel(), y.ravel(), z.ravel()])).reshape(x.shape)
    depth = -sdf.max(axis=2)  # per (y, z): the bone around the left-right line that stays deepest
    upper = zs >= top - SI_S1_SPLIT * (top - bottom)
    out = {}
    for level, rows in (("S1", upper), ("S2", ~upper)):
        d = np.where(rows[None, :], depth, -np.inf)
        a, b = np.unravel_index(int(np.argmax(d)), d.shape)
        if d[a, b] > 0:
            out[level] = np.array([midline_x, ys[a], zs[b]])
        elif reasons is not None:
            z = zs[rows]
            reasons[level] = (f"at the {level} level (LPS z {z.min():.0f} to {z.max():.0f} mm, along the sacroiliac joints) "
                              f"every left-right line between the joints leaves the bone (the best by {-d[a, b]:.1f} mm, at "
                              f"LPS z {zs[b]:.0f} mm): the {level} foramina or a narrow sacrum")
    return out
