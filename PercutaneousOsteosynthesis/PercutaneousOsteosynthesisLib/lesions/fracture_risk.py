"""Fracture-risk findings beyond Mirels, from the lesion's place in the bone (LPS mm).

Periacetabular lesions, Harrington's classification (1981): I lateral cortices, superior and medial walls intact;
II medial wall deficient; III lateral cortices and superior wall (roof) deficient; IV resection for cure (a
treatment intent, not assessed here). The acetabulum is the femoral head's sphere (``bone.femoral_head``): its
walls are the subchondral bone within ``WALL_DEPTH_MM`` outside the sphere and the joint space, medial (toward the
midline) or superior (the roof) within ``WALL_HALF_ANGLE_DEG``; a wall is deficient when the lesion has replaced
``DEFICIENT_FRACTION`` of it.

Proximal femur lesions: axial cortical involvement (the lesion's extent along the femur, LPS z, over its part within
``CORTEX_ZONE_MM`` of the bone surface or beyond it; > ``AXIAL_INVOLVEMENT_FLAG_MM`` is a fracture risk, Van der
Linden 2004) and lesser-trochanter involvement (the lesion reaches the lesser trochanter's level, from
``bone.femur_levels``): what teams use to choose screws plus cement over cement alone.
"""

from __future__ import annotations

import numpy as np

PERIACETABULAR_MM = 25.0
JOINT_SPACE_MM = 1.0
WALL_DEPTH_MM = 4.0  # the subchondral bone that carries the head
WALL_HALF_ANGLE_DEG = 30.0
DEFICIENT_FRACTION = 0.25
CORTEX_ZONE_MM = 3.0
AXIAL_INVOLVEMENT_FLAG_MM = 30.0
LESSER_TROCHANTER_BAND_MM = (5.0, 15.0)  # below and above the trochanteric end level


def harrington(lesion, bone, head, midline_x_lps: float) -> dict:
    """``{"class": 1-3 or None, "medial_wall_deficient", "roof_deficient", "reason"}`` for a lesion near ``head``
    (bone.femoral_head.FemoralHead of the lesion's side)."""
    pts = lesion.points_lps()
    c, r = np.asarray(head.centre_lps, float), float(head.radius_mm)
    gap = float(np.linalg.norm(pts - c, axis=1).min() - r)
    if gap > PERIACETABULAR_MM:
        return {"class": None, "reason": f"not periacetabular: {gap:.0f} mm from the femoral head"}
    g = bone.geometry
    reach = r + JOINT_SPACE_MM + WALL_DEPTH_MM
    corners = np.array([[c[0] + a * reach, c[1] + b * reach, c[2] + d * reach] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)])
    ijk = g.lps_to_ijk(corners)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.array(g.size))
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, np.array(g.size))
    box = tuple(slice(lo[a], hi[a]) for a in (2, 1, 0))
    full = lesion.full_mask()[box]
    bone_or_lesion = (bone.labels[box] > 0) | full
    kji = np.argwhere(bone_or_lesion)
    p = g.ijk_to_lps((kji + [b.start for b in box])[:, ::-1].astype(float))
    v = p - c
    dist = np.linalg.norm(v, axis=1)
    shell = (dist > r + JOINT_SPACE_MM) & (dist <= reach)
    unit = v / np.maximum(dist, 1e-9)[:, None]
    medial = np.array([np.sign(midline_x_lps - c[0]) or -1.0, 0.0, 0.0])
    cos_lim = np.cos(np.radians(WALL_HALF_ANGLE_DEG))
    in_lesion = full[tuple(kji.T)]
    out = {}
    for wall, direction in (("medial_wall", medial), ("roof", np.array([0.0, 0.0, 1.0]))):
        region = shell & (unit @ direction >= cos_lim)
        frac = float(in_lesion[region].mean()) if region.any() else 0.0
        out[f"{wall}_lesion_fraction"] = round(frac, 3)
        out[f"{wall}_deficient"] = frac >= DEFICIENT_FRACTION
    klass = 3 if out["roof_deficient"] else (2 if out["medial_wall_deficient"] else 1)
    out.update({"class": klass, "reason": "", "note": "class IV (resection for cure) is a treatment intent: not assessed"})
    return out


def proximal_femur_involvement(lesion, bone, trochanteric_end_z: float | None) -> dict:
    """Axial cortical involvement (mm, flag) and lesser-trochanter involvement of a femur lesion."""
    pts = lesion.points_lps()
    cortical = pts[bone.signed_distance_lps(pts) > -CORTEX_ZONE_MM]
    axial = float(np.ptp(cortical[:, 2])) + float(min(bone.geometry.spacing)) if len(cortical) else 0.0
    lesser = None
    if trochanteric_end_z is not None:
        below, above = LESSER_TROCHANTER_BAND_MM
        lesser = bool(pts[:, 2].min() <= trochanteric_end_z + above and pts[:, 2].max() >= trochanteric_end_z - below)
    return {"axial_cortical_involvement_mm": round(axial, 1), "axial_involvement_over_30mm": axial > AXIAL_INVOLVEMENT_FLAG_MM,
            "lesser_trochanter_involved": lesser}
