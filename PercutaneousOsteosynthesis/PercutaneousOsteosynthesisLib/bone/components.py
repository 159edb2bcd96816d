"""Which bone a connected piece of the bone model is: ``BoneComponent(kind, side)``, recognised from anatomy.

- sacrum: the midline bone joined to a lateral bone by a sacroiliac joint gap (found in ``bone.model``);
- hip bone: a lateral bone joined to the sacrum;
- femur: a lateral bone whose upper surface is largely a sphere of a femoral head's size (radius 18-32 mm), whether
  or not the pelvis is recognised (a scan ending at the femoral heads, a pelvis whose joints are fused);
- pelvic ring: sacrum and hip bones in one piece (fused or unresolved sacroiliac joints);
- lumbar spine: the vertebrae above the sacrum, split off it at the L5-S1 disc (``bone.lumbar_split``).
Side from the midline (LPS: +x is the patient's left).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import morphology
from ..geometry.voxel_index import nonzero_kji
from .femoral_head import HEAD_RADIUS_RANGE_MM, sphere_support

KINDS = ("sacrum", "hip bone", "femur", "pelvic ring", "lumbar spine", "other")
HEAD_SEARCH_DEPTH_MM = 60.0  # the upper part of a femur searched for the head
HEAD_MIN_SUPPORT = 0.35  # fraction of that part's surface on the sphere


@dataclass(frozen=True)
class BoneComponent:
    kind: str
    side: str | None = None  # "left", "right" or None (midline)
    label: int = 0

    @property
    def name(self) -> str:
        if self.kind == "pelvic ring":
            return "pelvic ring (sacrum and hip bones joined)"
        if self.kind == "other":
            return f"bone component {self.label}"
        return f"{self.side} {self.kind}" if self.side else self.kind


def component_summary(env_labels: np.ndarray, label: int, box: tuple, geometry, slab: int = 16) -> dict | None:
    """``label``, ``box``, ``volume_ml``, ``centroid_lps`` and ``bounds_lps`` (min, max of the voxel centres) of one
    component of ``env_labels`` in its box; None when it has no voxel.  Read ``slab`` k-slices at a time, so that no
    index or point array of the whole component is built; the same numbers as from all points at once (the points
    are summed in the same order)."""
    start = np.array([s.start for s in box])
    n, total, lows, highs = 0, None, [], []
    for k0 in range(box[0].start, box[0].stop, slab):
        kji = nonzero_kji(env_labels[k0:min(k0 + slab, box[0].stop), box[1], box[2]] == label)
        if len(kji) == 0:
            continue
        kji += start + [k0 - box[0].start, 0, 0]
        pts = geometry.ijk_to_lps(kji[:, ::-1].astype(float))
        n += len(pts)
        lows.append(pts.min(axis=0))
        highs.append(pts.max(axis=0))
        total = np.add.reduce(pts if total is None else np.concatenate([total[None], pts]), axis=0)
    if n == 0:
        return None
    return {"label": label, "box": box, "volume_ml": n * geometry.voxel_volume_mm3 / 1000.0, "centroid_lps": (total / n).tolist(),
            "bounds_lps": (np.min(lows, axis=0).tolist(), np.max(highs, axis=0).tolist())}


def surface_points_lps(env_labels: np.ndarray, comp: dict, geometry) -> np.ndarray:
    """LPS centres of the component's boundary voxels (a 6-neighbour outside it)."""
    box = comp["box"]
    own = env_labels[box] == comp["label"]
    boundary = own & ~morphology.erode(own, 1)  # the 6-neighbour erosion
    kji = nonzero_kji(boundary) + [s.start for s in box]
    return geometry.ijk_to_lps(kji[:, ::-1].astype(float))


def femoral_head_sphere(surface_lps: np.ndarray, spacing) -> tuple[np.ndarray, float, float] | None:
    """(centre, radius, support) of a femoral-head-sized sphere carrying at least HEAD_MIN_SUPPORT of the surface
    of the component's upper HEAD_SEARCH_DEPTH_MM, or None."""
    if len(surface_lps) < 100:
        return None
    top = surface_lps[surface_lps[:, 2] > surface_lps[:, 2].max() - HEAD_SEARCH_DEPTH_MM]
    if len(top) < 100:
        return None
    found = sphere_support(top, tolerance_mm=max(1.0, float(max(spacing))), radius_range=HEAD_RADIUS_RANGE_MM)
    if found is None or found[2] < HEAD_MIN_SUPPORT:
        return None
    return found


def name_components(comps: list, x_mid: float, env_labels: np.ndarray, geometry) -> None:
    """Set ``kind``, ``side`` and ``name`` of every component dict (``joins_sacrum`` and ``name`` "sacrum" set by the
    sacroiliac joint search are kept); femurs get ``head_centre_lps``/``head_radius_mm`` of their sphere."""
    for c in comps:
        side = "left" if c["centroid_lps"][0] > x_mid else "right"
        spans_midline = c["bounds_lps"][0][0] < x_mid < c["bounds_lps"][1][0]
        if c.get("name") == "sacrum":
            comp = BoneComponent("sacrum")
        elif c.get("lumbar"):
            comp = BoneComponent("lumbar spine")
        elif c.get("joins_sacrum"):
            comp = BoneComponent("hip bone", side)
        elif spans_midline and c["volume_ml"] > 300:
            comp = BoneComponent("pelvic ring")
        else:
            head = None if spans_midline or c["volume_ml"] < 20 else femoral_head_sphere(surface_points_lps(env_labels, c, geometry),
                                                                                          geometry.spacing)
            if head is not None:
                comp = BoneComponent("femur", side)
                c["head_centre_lps"], c["head_radius_mm"] = head[0].tolist(), float(head[1])
            else:
                comp = BoneComponent("other", None, c["label"])
        c["kind"], c["side"], c["name"] = comp.kind, comp.side, comp.name


def midline_x_lps(bone) -> float:
    """The patient's midline (LPS x, mm): the middle of all bone components' extent."""
    if not bone.components:
        return 0.0
    return 0.5 * (min(c["bounds_lps"][0][0] for c in bone.components) + max(c["bounds_lps"][1][0] for c in bone.components))


def midline_x_of_labels(env_labels: np.ndarray, geometry) -> float:
    """The patient's midline (LPS x, mm) from a label map: the middle of all bone's extent in the left-right axis (every
    fourth voxel per axis is enough)."""
    kji = nonzero_kji(env_labels[::4, ::4, ::4] > 0) * 4
    x = geometry.ijk_to_lps(kji[:, ::-1].astype(float))[:, 0]
    return 0.5 * (float(x.min()) + float(x.max()))
