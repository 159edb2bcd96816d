"""Femoral-neck screw configuration: parallelism, spread and tip-apex distance (LPS mm).

Definitions:

* parallelism: the largest angle between the axes (as lines, 0-90 degrees) over all screw pairs;
* spread: the screw axes are intersected with the plane perpendicular to the mean axis through
  ``plane_point_lps`` (default: the centroid of the screw midpoints, i.e. mid-neck); reported are the largest
  distance between two intersection points and the area of their convex hull (the triangle for 3 screws);
* tip-apex distance (3D form of Baumgaertner's TAD): for each screw, the distance from its tip to the
  femoral head apex = ``head_centre + head_radius * neck_axis`` where ``neck_axis`` points from the neck into
  the head.  The neck axis sign is made to agree with the mean screw direction (entry to tip).

The femoral-neck screws of a plan are those whose role is ``roles.FEMORAL_NECK`` (not found by their names);
they are grouped by side from their tips (LPS +x is the patient's left).

In a plan (:func:`neck_set_metrics`) the apex lies on the anatomical neck axis found in the bone model
(``bone.femoral_head.neck_axis_lps``), not on the screws' own axis, so a set tilted off the neck reads a larger
TAD.  Baumgaertner's TAD is the sum of the tip-apex distances seen on an AP view (beam along the patient's
antero-posterior axis: the x-z plane) and on a cross-table lateral view (a horizontal beam perpendicular to the
neck axis: the plane of the neck axis's horizontal part and the vertical); the 3D distance is given too.  The
tip-to-subchondral distance is the head radius minus the tip's distance from the head centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from ..bone.components import midline_x_lps
from ..errors import PosteoInputError
from .neck_rules import configuration_rules, neck_frame
from .roles import FEMORAL_NECK, with_role


def _unit(v, what: str) -> np.ndarray:
    v = np.asarray(v, float).reshape(-1)
    n = np.linalg.norm(v) if v.shape == (3,) else 0.0
    if not np.isfinite(n) or n < 1e-9:
        raise PosteoInputError(what, f"must be a non-zero 3D vector, got {v.tolist()}")
    return v / n


def _check(screws) -> list:
    screws = list(screws)
    if len(screws) < 2:
        raise PosteoInputError("femoral neck screws", f"at least 2 screws are needed, got {len(screws)}")
    return screws


def mean_axis_lps(screws) -> np.ndarray:
    """Unit mean direction (LPS) of the screws, each oriented to agree with the first."""
    screws = _check(screws)
    ref = screws[0].direction_lps
    acc = sum(s.direction_lps * (1.0 if s.direction_lps @ ref >= 0 else -1.0) for s in screws)
    return _unit(acc, "mean screw axis")


def mean_axis_lps_any(screws) -> np.ndarray:
    """Mean screw direction for one or more screws (entry to tip, LPS)."""
    screws = list(screws)
    if not screws:
        raise PosteoInputError("femoral neck screws", "no screw given")
    return mean_axis_lps(screws) if len(screws) >= 2 else screws[0].direction_lps


def max_pairwise_angle_deg(screws) -> float:
    """Largest angle between two screw axes, as lines (degrees, 0-90)."""
    screws = _check(screws)
    worst = 0.0
    for i in range(len(screws)):
        for j in range(i + 1, len(screws)):
            c = abs(float(screws[i].direction_lps @ screws[j].direction_lps))
            s = float(np.linalg.norm(np.cross(screws[i].direction_lps, screws[j].direction_lps)))
            worst = max(worst, float(np.degrees(np.arctan2(s, c))))
    return worst


def spread_points_lps(screws, plane_point_lps=None) -> np.ndarray:
    """Intersections (N, 3, LPS) of the screw lines with the plane perpendicular to the mean axis through ``plane_point_lps``."""
    screws = _check(screws)
    n = mean_axis_lps(screws)
    if plane_point_lps is None:
        plane_point_lps = np.mean([0.5 * (s.entry_lps + s.tip_lps) for s in screws], axis=0)
    c = np.asarray(plane_point_lps, float).reshape(3)
    out = []
    for s in screws:
        den = float(s.direction_lps @ n)
        if abs(den) < 1e-6:
            raise PosteoInputError(f"screw '{s.name}'", "is perpendicular to the mean neck-screw axis")
        t = float((c - s.entry_lps) @ n) / den
        out.append(s.entry_lps + t * s.direction_lps)
    return np.array(out)


def spread(screws, plane_point_lps=None) -> tuple[float, float]:
    """(largest distance between screws mm, convex-hull area mm^2) in the mid-neck plane (see module doc)."""
    pts = spread_points_lps(screws, plane_point_lps)
    n = mean_axis_lps(screws)
    e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    q = np.column_stack([pts @ e1, pts @ e2])
    dmax = max(float(np.linalg.norm(q[i] - q[j])) for i in range(len(q)) for j in range(i + 1, len(q)))
    area = 0.0
    if len(q) >= 3:
        try:
            area = float(ConvexHull(q).volume)  # 2D hull "volume" is its area
        except RuntimeError:  # collinear points (QhullError is a RuntimeError)
            area = 0.0
    return dmax, area


def head_apex_lps(head_centre_lps, head_radius_mm: float, neck_axis_lps) -> np.ndarray:
    """Femoral head apex (LPS): where the neck axis (pointing from the neck into the head) exits the head sphere."""
    r = float(head_radius_mm)
    if not np.isfinite(r) or r <= 0:
        raise PosteoInputError(f"head radius {head_radius_mm}", "must be > 0 mm")
    return np.asarray(head_centre_lps, float).reshape(3) + r * _unit(neck_axis_lps, "neck axis")


def tip_apex_distances_mm(screws, head_centre_lps, head_radius_mm: float, neck_axis_lps) -> list[float]:
    """3D tip-apex distance of each screw (mm); the neck axis is oriented along the mean screw direction."""
    axis = _unit(neck_axis_lps, "neck axis")
    if axis @ mean_axis_lps_any(screws) < 0:
        axis = -axis
    apex = head_apex_lps(head_centre_lps, head_radius_mm, axis)
    return [float(np.linalg.norm(s.tip_lps - apex)) for s in screws]


@dataclass
class NeckConfiguration:
    max_angle_deg: float
    max_distance_mm: float
    hull_area_mm2: float
    tip_apex_mm: dict

    def to_dict(self) -> dict:
        return {"max_angle_deg": self.max_angle_deg, "max_distance_mm": self.max_distance_mm,
                "hull_area_mm2": self.hull_area_mm2, "tip_apex_mm": dict(self.tip_apex_mm)}


def neck_configuration(screws, head_centre_lps, head_radius_mm: float, neck_axis_lps, plane_point_lps=None) -> NeckConfiguration:
    """Parallelism, spread and tip-apex distances of ≥ 2 femoral-neck screws (see module doc)."""
    screws = _check(screws)
    dmax, area = spread(screws, plane_point_lps)
    tad = tip_apex_distances_mm(screws, head_centre_lps, head_radius_mm, neck_axis_lps)
    return NeckConfiguration(max_pairwise_angle_deg(screws), dmax, area, {s.name: d for s, d in zip(screws, tad)})


def neck_set_metrics(screws, bone) -> list[dict]:
    """Per side with >= 2 femoral-neck screws (role ``femoral neck``): parallelism, spread and, where the femoral
    head is found in ``bone``, its sphere and each screw's tip-apex distance (LPS mm)."""
    from ..bone.femoral_head import locate_femoral_head, neck_axis_lps

    necks = with_role(screws, FEMORAL_NECK)
    if len(necks) < 2:
        return []
    x_mid = midline_x_lps(bone)
    out = []
    for side in ("left", "right"):
        group = [s for s in necks if (s.tip_lps[0] > x_mid) == (side == "left")]
        if len(group) < 2:
            continue
        names = [s.name for s in group]
        try:
            dmax, area = spread(group)
        except PosteoInputError as exc:
            out.append({"side": side, "screws": names, "error": str(exc)})
            continue
        entry = {"side": side, "screws": names, "max_angle_deg": max_pairwise_angle_deg(group), "max_distance_mm": dmax,
                 "hull_area_mm2": area}
        try:
            head = locate_femoral_head(bone, side)
        except PosteoInputError as exc:
            entry["tip_apex_distance_mm"] = None
            entry["tip_apex_note"] = str(exc)
            out.append(entry)
            continue
        entry["femoral_head"] = head.to_dict()
        try:
            axis, entry["neck_axis_source"] = neck_axis_lps(bone, head), "anatomical"
        except PosteoInputError as exc:  # no neck in the bone model: the screws' own axis, said so
            axis, entry["neck_axis_source"] = -mean_axis_lps(group), f"screws (no anatomical axis: {exc.problem})"
        entry["neck_axis_lps"] = [float(v) for v in axis]
        tads = {s.name: baumgaertner_tad_mm(s.tip_lps, head.centre_lps, head.radius_mm, axis) for s in group}
        entry["tip_apex_distance_mm"] = {k: v["tad_mm"] for k, v in tads.items()}
        entry["tip_apex"] = tads
        entry["inverted_triangle"] = inverted_triangle(group, axis)
        entry["configuration"] = configuration_rules(group, axis, head, bone, _lesser_trochanter_z(bone, side, head))
        out.append(entry)
    return out


def _lesser_trochanter_z(bone, side: str, head) -> float | None:
    """LPS z (mm) of the lesser trochanter's lower end on that side's femur, None when the scan does not show it."""
    from ..bone.femoral_head import femur_component
    from ..bone.femur_levels import trochanteric_end_z_lps

    comp = femur_component(bone, side)
    return None if comp is None else trochanteric_end_z_lps(bone, comp, float(head.centre_lps[2]))


def baumgaertner_tad_mm(tip_lps, head_centre_lps, head_radius_mm: float, neck_axis_to_neck_lps) -> dict:
    """AP, lateral and summed tip-apex distance (Baumgaertner), 3D tip-apex distance and tip-to-subchondral
    distance of one screw tip (mm); ``neck_axis_to_neck_lps`` points from the head centre into the neck."""
    axis = _unit(neck_axis_to_neck_lps, "neck axis")
    centre = np.asarray(head_centre_lps, float).reshape(3)
    apex = head_apex_lps(centre, head_radius_mm, -axis)
    d = np.asarray(tip_lps, float).reshape(3) - apex
    ap = float(np.hypot(d[0], d[2]))
    horizontal = np.array([axis[0], axis[1], 0.0])
    if np.linalg.norm(horizontal) < 1e-6:
        horizontal = np.array([1.0, 0.0, 0.0])
    beam = np.cross([0.0, 0.0, 1.0], horizontal / np.linalg.norm(horizontal))
    lateral = float(np.linalg.norm(d - (d @ beam) * beam))
    return {"ap_mm": ap, "lateral_mm": lateral, "tad_mm": ap + lateral, "tip_apex_3d_mm": float(np.linalg.norm(d)),
            "tip_subchondral_mm": float(head_radius_mm) - float(np.linalg.norm(np.asarray(tip_lps, float) - centre))}


def inverted_triangle(screws, neck_axis_lps) -> bool | None:
    """For 3 screws: True when, across the neck, one screw lies clearly below the other two (>= 5 mm) and those two
    lie side by side (>= 5 mm apart antero-posteriorly): the inverted triangle.  None for other counts."""
    if len(screws) != 3:
        return None
    up, side = neck_frame(_unit(neck_axis_lps, "neck axis"))
    mids = np.array([0.5 * (s.entry_lps + s.tip_lps) for s in screws])
    heights, across = mids @ up, mids @ side
    low = int(np.argmin(heights))
    others = [i for i in range(3) if i != low]
    return bool(min(heights[others]) - heights[low] >= 5.0 and abs(across[others[0]] - across[others[1]]) >= 5.0)
