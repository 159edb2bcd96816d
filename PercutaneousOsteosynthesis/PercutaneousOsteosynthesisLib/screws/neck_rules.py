"""Configuration rules of a femoral-neck screw set beyond the tip-apex distance (LPS mm).

- cortical support: the inferior screw should rest near the inferior (calcar) cortex of the neck and the posterior
  screw near its posterior cortex, so that the neck fragment cannot tilt into varus or retroversion. Measured across
  the neck, from the screw's surface straight down (or straight back) to the outer bone surface, at the neck's
  narrowest place for that screw (the screw's axis points between ``NECK_SPAN_MM`` from the head sphere); supported
  when at most ``NEAR_CORTEX_MM`` (about 3 mm of cancellous bone under a thin cortex);
- entry level: an entry below the lesser trochanter (the top of the femur's narrow part, ``bone.femur_levels``)
  leaves a stress riser in the subtrochanteric cortex, where fractures start.

"Down" is the patient's superior axis made perpendicular to the neck axis (reversed); "back" the horizontal
direction across the neck, toward posterior.
"""

from __future__ import annotations

import numpy as np

NEAR_CORTEX_MM = 4.0
NECK_SPAN_MM = (2.0, 15.0)  # beyond the head sphere: the neck
_RAY_REACH_MM, _RAY_STEP_MM = 40.0, 0.25


def neck_frame(neck_axis_lps) -> tuple[np.ndarray, np.ndarray]:
    """(up, back): unit LPS directions across the neck, perpendicular to its axis: up toward superior, back toward
    posterior."""
    axis = np.asarray(neck_axis_lps, float) / np.linalg.norm(neck_axis_lps)
    up = np.array([0.0, 0.0, 1.0]) - axis[2] * axis
    up /= np.linalg.norm(up)
    back = np.cross(axis, up)
    if back[1] < 0:
        back = -back
    return up, back


def distance_to_cortex_mm(bone, screw, direction_lps, head_centre_lps, head_radius_mm: float) -> float | None:
    """Smallest gap (mm) from the screw's surface to the outer bone surface in ``direction_lps`` (a unit LPS vector
    across the neck), over the screw's neck part; None when the screw has no point in the neck."""
    t = np.arange(0.0, screw.length_mm + 1e-9, 1.0)
    axis_pts = screw.entry_lps + t[:, None] * screw.direction_lps
    r = np.linalg.norm(axis_pts - np.asarray(head_centre_lps, float), axis=1)
    in_neck = (r > head_radius_mm + NECK_SPAN_MM[0]) & (r < head_radius_mm + NECK_SPAN_MM[1])
    if not in_neck.any():
        return None
    d = np.asarray(direction_lps, float)
    s = np.arange(0.0, _RAY_REACH_MM, _RAY_STEP_MM)
    rays = axis_pts[in_neck][:, None, :] + s[None, :, None] * d
    sdf = bone.signed_distance_lps(rays.reshape(-1, 3)).reshape(rays.shape[:2])
    outside = sdf >= 0.0
    if not outside.any(axis=1).all():
        return None
    first = np.argmax(outside, axis=1)
    # refine the crossing linearly between the last inside and the first outside sample
    idx = np.arange(len(first))
    before, after = sdf[idx, np.maximum(first - 1, 0)], sdf[idx, first]
    frac = np.where(after > before, -before / np.where(after > before, after - before, 1.0), 0.0)
    exit_mm = (np.maximum(first - 1, 0) + np.clip(frac, 0.0, 1.0)) * _RAY_STEP_MM
    return float(exit_mm.min() - 0.5 * screw.diameter_mm)


def configuration_rules(group, neck_axis_lps, head, bone, lesser_trochanter_z_lps: float | None) -> dict:
    """Cortical support of the inferior and posterior screws and the entry level of every screw of one side's
    femoral-neck set (see module doc); ``head`` a ``FemoralHead``."""
    up, back = neck_frame(neck_axis_lps)
    mids = np.array([0.5 * (s.entry_lps + s.tip_lps) for s in group])
    low = int(np.argmin(mids @ up))
    others = [i for i in range(len(group)) if i != low]
    post = max(others, key=lambda i: float(mids[i] @ back))
    out = {"inferior_screw": group[low].name,
           "inferior_cortex_mm": distance_to_cortex_mm(bone, group[low], -up, head.centre_lps, head.radius_mm),
           "posterior_screw": group[post].name,
           "posterior_cortex_mm": distance_to_cortex_mm(bone, group[post], back, head.centre_lps, head.radius_mm),
           "lesser_trochanter_z_lps": lesser_trochanter_z_lps,
           "entries_below_lesser_trochanter": None if lesser_trochanter_z_lps is None else
           [s.name for s in group if float(s.entry_lps[2]) < lesser_trochanter_z_lps]}
    findings = []
    for which in ("inferior", "posterior"):
        gap = out[f"{which}_cortex_mm"]
        if gap is not None and gap > NEAR_CORTEX_MM:
            findings.append(f"{which} screw {out[f'{which}_screw']} is {gap:.1f} mm from the {which} cortex "
                            f"(cortical support wants <= {NEAR_CORTEX_MM:g} mm)")
    for name in out["entries_below_lesser_trochanter"] or []:
        findings.append(f"screw {name} enters below the lesser trochanter (subtrochanteric stress riser)")
    out["findings"] = findings
    return out
