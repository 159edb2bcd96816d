"""Lesions and cement of a plan in one report: segmentation, metrics, Mirels' score, screw relations and the
simulated cement (all LPS mm, mL), with the masks for ``plan.seg.nrrd``.

Screw relations, on the screw's axis sampled every 0.5 mm: ``anchorage_mm`` = length of the threaded part
(the last ``thread_length_mm`` towards the tip; the whole screw if fully threaded) in intact bone (envelope,
not lesion) beyond the lesion's far end (towards the tip; the whole thread if the screw misses the lesion);
``bridges`` = the axis crosses the lesion with at least ``BRIDGE_MIN_MM`` of intact bone on each side;
``distance_to_lesion_mm`` = gap between the screw's cylinder and the nearest lesion voxel centre (0 if they meet).
"""

from __future__ import annotations

import numpy as np

from ..palette import CEMENT_RGB, lesion_rgb
from .cement import simulate_cement
from .mirels import mirels_score, site_of
from .segmentation import segment_lesion

BRIDGE_MIN_MM = 5.0


def component_at(bone, point_lps) -> dict | None:
    """The bone component (from ``bone.components``) whose box holds the point and whose centroid is nearest."""
    kji = np.rint(bone.geometry.lps_to_ijk(np.asarray(point_lps, float))).astype(int)[::-1]
    best, best_d = None, np.inf
    for c in bone.components:
        if all(s.start <= v < s.stop for s, v in zip(c["box"], kji)):
            d = float(np.linalg.norm(np.asarray(c["centroid_lps"]) - point_lps))
            if d < best_d:
                best, best_d = c, d
    return best


def screw_relation(screw, lesion, bone) -> dict:
    """Anchorage, bridging and distance of one screw relative to one lesion (see module docstring)."""
    s, pts = screw.axis_points_lps(0.5)
    g = lesion.geometry
    full = lesion.full_mask()
    kji = np.rint(g.lps_to_ijk(pts)).astype(int)[:, ::-1]
    inside = np.all((kji >= 0) & (kji < g.shape_kji), axis=1)
    in_les = np.zeros(len(pts), bool)
    in_les[inside] = full[tuple(kji[inside].T)]
    lab = bone.label_at_lps(pts)
    intact = ((lab == 1) | (lab == 2)) & ~in_les
    step = float(s[1] - s[0])
    thread = screw.thread_length_mm if screw.thread_length_mm is not None else screw.length_mm
    threaded = s >= screw.length_mm - thread - 1e-9
    crosses = bool(in_les.any())
    if crosses:
        first, last = np.nonzero(in_les)[0][[0, -1]]
        beyond = np.arange(len(s)) > last
        before = np.arange(len(s)) < first
        bridges = bool(intact[before].sum() * step >= BRIDGE_MIN_MM and intact[beyond].sum() * step >= BRIDGE_MIN_MM)
    else:
        beyond = np.ones(len(s), bool)
        bridges = False
    anchorage = float((intact & threaded & beyond).sum() * step)
    lp = lesion.points_lps()
    ab = screw.tip_lps - screw.entry_lps
    t = np.clip(((lp - screw.entry_lps) @ ab) / float(ab @ ab), 0.0, 1.0)
    gap = float(np.min(np.linalg.norm(lp - (screw.entry_lps + t[:, None] * ab), axis=1)) - screw.radius_mm)
    return {"screw": screw.name, "crosses_lesion": crosses, "anchorage_mm": anchorage, "bridges": bridges,
            "distance_to_lesion_mm": max(0.0, gap)}


def lesion_mirels(lesion, bone, pain) -> dict:
    """Mirels' score of a lesion (``MirelsResult.to_dict``): ``score`` None with the reason where it does not apply.
    The bone is the component holding most of the lesion's voxels; femoral levels from the femur's own shape."""
    from ..bone.femur_levels import trochanteric_end_z_lps
    from .mirels import MirelsResult, femur_site

    comp = bone.component_of_voxels(lesion.full_mask()) or component_at(bone, lesion.centroid_lps)
    name = comp["name"] if comp else ""
    result = MirelsResult(None, pain, lesion.type, lesion.diameter_fraction, bone=name)
    if comp is not None and comp.get("kind") == "femur":
        head_z = comp.get("head_centre_lps", comp["bounds_lps"][1])[2]
        site, result.level, result.note = femur_site(lesion.centroid_lps[2], trochanteric_end_z_lps(bone, comp, head_z), comp["bounds_lps"][1][2])
    else:
        site, result.reason = site_of(name, lesion.centroid_lps)
    result.site = site
    if site is None:
        return result.to_dict()
    if pain is None:
        result.reason = "pain not recorded for this lesion (mild/moderate/functional needed)"
        return result.to_dict()
    scored = mirels_score(site, pain, lesion.type, lesion.diameter_fraction)
    result.items, result.total = scored.items, scored.total
    return result.to_dict()


def lesion_fracture_risk(lesion, bone) -> dict:
    """Harrington class (periacetabular lesions) or the proximal-femur involvement of a lesion (lesions.fracture_risk),
    ``{}`` elsewhere; the reason when a needed landmark is missing."""
    from ..bone.components import midline_x_lps
    from ..bone.femoral_head import locate_femoral_head
    from ..bone.femur_levels import trochanteric_end_z_lps
    from ..errors import PosteoInputError
    from .fracture_risk import harrington, proximal_femur_involvement

    comp = bone.component_of_voxels(lesion.full_mask()) or component_at(bone, lesion.centroid_lps)
    if comp is None:
        return {}
    if comp.get("kind") == "femur":
        head_z = comp.get("head_centre_lps", comp["bounds_lps"][1])[2]
        return {"proximal_femur": proximal_femur_involvement(lesion, bone, trochanteric_end_z_lps(bone, comp, head_z))}
    if comp.get("kind") not in ("hip bone", "pelvic ring"):
        return {}
    mid = midline_x_lps(bone)
    side = "left" if lesion.centroid_lps[0] > mid else "right"
    try:
        head = locate_femoral_head(bone, side)
    except PosteoInputError as exc:
        return {"harrington": {"class": None, "reason": f"acetabulum not located: {exc.problem}"}}
    return {"harrington": harrington(lesion, bone, head, mid)}


def analyze_lesions_and_cement(ct, bone, plan, screws=None) -> dict:
    """Segment the plan's lesions, score them, relate them to the screws and simulate its cement injections."""
    screws = list(plan.screws if screws is None else screws)
    lesions, out_lesions, segments = [], [], []
    for n, seed in enumerate(plan.lesions):
        les = segment_lesion(ct, bone, seed.seed_lps, seed.name)
        lesions.append(les)
        d = les.to_dict()
        d["mirels"] = lesion_mirels(les, bone, seed.pain)
        d["fracture_risk"] = lesion_fracture_risk(les, bone)
        d["screws"] = [screw_relation(s, les, bone) for s in screws]
        out_lesions.append(d)
        segments.append((les.name, les.full_mask(), lesion_rgb(n)))
    out_cement = []
    for inj in plan.cement:
        res = simulate_cement(ct, bone, inj.point_lps, inj.volume_ml, lesions, inj.name, screws=screws)
        out_cement.append(res.to_dict())
        segments.append((inj.name, res.mask, CEMENT_RGB))
    return {"coordinate_system": "LPS", "lesions": out_lesions, "cement": out_cement, "segments": segments}
