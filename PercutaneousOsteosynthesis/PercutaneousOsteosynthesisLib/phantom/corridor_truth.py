"""The phantom's osseous fixation pathways, found on its exact geometry (LPS mm): the truth the CT-based corridors
are tested against.

The landmarks are the anatomy's own (head centres and neck axes, foramina, sacroiliac joints) or found by the CT rules
on the exact hip bones (spines, superior ramus, ischial tuberosity), the depth is the exact depth in the analytic envelope (sacroiliac joint
gaps crossable, sacral tunnels carved: phantom.exact_depth) and the no-go distance is the distance to the tunnels
and to the hip joints' cartilage spaces (between head and cup);
the same pathway rules (corridors.pathways) are searched with the same search and the same centre of a flat optimum
(corridors.centre).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..corridors.centre import find_corridor_line
from ..corridors.landmarks import PelvisLandmarks, SideLandmarks, hip_bone_landmarks
from ..corridors.pathways import PATHWAYS, search_region
from ..geometry.vectors import sphere_directions, unit
from .anatomy import HEAD_RADIUS_MM, Anatomy, build_anatomy
from .exact_depth import exact_depth_fn
from .shapes import union_sdf

GRID_MM = 1.0


def _hip_bone_points(anat: Anatomy, side: str) -> np.ndarray:
    """LPS points of a 1 mm grid inside the phantom's hip bone of ``side``."""
    hip = anat.part(f"{side} hip bone")
    lo, hi = hip.bounds()
    axes = [np.arange(a, b + GRID_MM, GRID_MM) for a, b in zip(lo, hi)]
    out = []
    for x in axes[0]:
        yy, zz = np.meshgrid(axes[1], axes[2], indexing="ij")
        p = np.column_stack([np.full(yy.size, x), yy.ravel(), zz.ravel()])
        out.append(p[hip.sdf_within(p, 0.0) < 0])
    return np.vstack(out)


def truth_landmarks(anat: Anatomy) -> PelvisLandmarks:
    """The corridors' landmarks on the exact anatomy: head centres, neck axes, foramina and sacroiliac joints from the
    anatomy; the iliac spines, ramus and tuberosity by the same rules as on a CT (corridors.landmarks) applied to the
    points filling each analytic hip bone."""
    lm = anat.landmarks
    out = PelvisLandmarks(0.0)
    for side in ("left", "right"):
        sl = SideLandmarks(head_centre_lps=lm[f"femoral_head_center_{side}_lps"], head_radius_mm=HEAD_RADIUS_MM,
                           neck_axis_lps=lm[f"neck_axis_{side}_lps"], si_joint_lps=lm[f"si_joint_center_{side}_lps"])
        hip_bone_landmarks(sl, _hip_bone_points(anat, side), side, GRID_MM ** 3)
        out.sides[side] = sl
    for level in ("S1", "S2"):
        p = 0.5 * (lm[f"left_{level.lower()}_foramen_lps"] + lm[f"right_{level.lower()}_foramen_lps"])
        p[0] = 0.0
        out.sacral_levels[level] = p
    v = out.sacral_levels["S1"] - out.sacral_levels["S2"]
    out.sacral_axis_lps = v / np.linalg.norm(v)
    return out


def _hip_joint_space(anat: Anatomy, n: int = 6000):
    """(KD-tree of the mid-surface, half width) of both hip joints' cartilage spaces: between each femoral head and
    its acetabular cup, where the cup covers the head."""
    dirs = sphere_directions(n)
    pts = []
    cups = [anat.part(f"{side} acetabulum") for side in ("left", "right")]
    for cup in cups:
        covered = dirs[dirs @ unit(cup.opening) < cup.cut]
        pts.append(np.asarray(cup.center, float) + 0.5 * (HEAD_RADIUS_MM + cup.inner) * covered)
    half = 0.5 * (cups[0].inner - HEAD_RADIUS_MM)
    return cKDTree(np.vstack(pts)), half


def corridor_truth(anat: Anatomy | None = None) -> list[dict]:
    """Every pathway of the phantom: name, side, entry/tip (LPS), direction, width (mm), or found False and why."""
    anat = anat or build_anatomy()
    lm = truth_landmarks(anat)

    depth = exact_depth_fn(anat)

    joint_tree, joint_half = _hip_joint_space(anat)

    def nogo(p):
        return np.minimum(union_sdf(anat.nogo + anat.metal, p), joint_tree.query(p, workers=-1)[0] - joint_half)  # old screw too

    out = []
    for pathway in PATHWAYS:
        for side in (("left", "right") if pathway.sided else (None,)):
            region, why = search_region(pathway, lm, side)
            line = find_corridor_line(region, depth, nogo) if region else None
            entry = {"name": pathway.name, "side": side, "found": line is not None, "reason": why}
            if line is not None:
                entry.update({"entry_lps": line.entry_lps.tolist(), "tip_lps": line.tip_lps.tolist(),
                              "direction_lps": line.direction_lps.tolist(), "width_mm": 2.0 * line.radius_mm,
                              "narrowest_lps": (line.point_lps + line.narrowest_s * line.direction_lps).tolist()})
            out.append(entry)
    return out
