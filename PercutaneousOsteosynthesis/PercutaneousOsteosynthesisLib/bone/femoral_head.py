"""The femoral head located in the bone model: centre and radius (LPS mm), for the tip-apex distance.

Method: the femur's deepest point (the largest inscribed sphere of its proximal part, where the head is the
thickest bone) selects the femur's outer surface voxels within 1.8 times that depth; a RANSAC sphere fit (radius
15-35 mm) on them ignores the neck and the trochanter, and the inliers are refitted by least squares.
The femur is the bone model component of kind "femur" on that side (bone.components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PosteoInputError


@dataclass
class FemoralHead:
    side: str
    centre_lps: np.ndarray
    radius_mm: float
    rms_residual_mm: float

    def to_dict(self) -> dict:
        return {"side": self.side, "centre_lps": self.centre_lps.tolist(), "radius_mm": self.radius_mm,
                "rms_residual_mm": self.rms_residual_mm}

HEAD_RADIUS_RANGE_MM = (18.0, 32.0)  # a femoral head's radius: the spheres sought


def fit_sphere(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least-squares sphere through points (N, 3): centre, radius, RMS radial residual."""
    a = np.column_stack([2 * points, np.ones(len(points))])
    b = (points ** 2).sum(axis=1)
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = x[:3]
    radius = float(np.sqrt(x[3] + centre @ centre))
    res = np.linalg.norm(points - centre, axis=1) - radius
    return centre, radius, float(np.sqrt(np.mean(res ** 2)))


def _ransac_sphere(points: np.ndarray, tolerance_mm: float, radius_range=(15.0, 35.0), trials: int = 300, seed: int = 0):
    """The sphere (radius within ``radius_range``) with the most surface points within ``tolerance_mm``, refitted
    on those points by least squares."""
    rng = np.random.default_rng(seed)
    best, best_count = None, 0
    for _ in range(trials):
        sample = points[rng.choice(len(points), 4, replace=False)]
        try:
            centre, radius, _ = fit_sphere(sample)
        except np.linalg.LinAlgError:
            continue
        if not (np.isfinite(radius) and radius_range[0] <= radius <= radius_range[1]):
            continue
        count = int((np.abs(np.linalg.norm(points - centre, axis=1) - radius) < tolerance_mm).sum())
        if count > best_count:
            best, best_count = (centre, radius), count
    if best is None:
        raise PosteoInputError("femoral head", "no sphere of a femoral head's size fits the proximal femur")
    inliers = np.abs(np.linalg.norm(points - best[0], axis=1) - best[1]) < tolerance_mm
    return fit_sphere(points[inliers])


def sphere_support(points: np.ndarray, tolerance_mm: float, radius_range=(15.0, 35.0), trials: int = 300, seed: int = 0):
    """(centre, radius, support): the best RANSAC sphere of :func:`_ransac_sphere` and the fraction of the points
    within ``tolerance_mm`` of it; None when no sphere of that size fits."""
    try:
        centre, radius, _ = _ransac_sphere(points, tolerance_mm, radius_range, trials, seed)
    except (PosteoInputError, np.linalg.LinAlgError):
        return None
    if not radius_range[0] <= radius <= radius_range[1]:
        return None
    support = float((np.abs(np.linalg.norm(points - centre, axis=1) - radius) < tolerance_mm).mean())
    return centre, radius, support


def femur_component(bone, side: str) -> dict | None:
    """The component dict of the femur on ``side`` ("left"/"right"), None when the model has none."""
    return next((c for c in bone.components if c.get("kind") == "femur" and c.get("side") == side), None)


def locate_femoral_head(bone, side: str) -> FemoralHead:
    """Centre and radius (LPS mm) of the femoral head of ``side`` ("left"/"right")."""
    comp = femur_component(bone, side)
    if comp is None:
        raise PosteoInputError(f"{side} femoral head", "no separate femur in the bone model (not in the CT, or joined to "
                                                      "the pelvis across the hip joint)")
    box = comp["box"]
    sdf = bone.sdf[box]
    # the component's own voxels (the hip bone reaching into the box is not the femur's: its acetabular roof can be the
    # deepest bone there); without component labels, those inside the envelope within reach of the femur's centroid
    inside = sdf < 0
    if bone.component_labels is not None:
        inside &= bone.component_labels[box] == comp["label"]
    kji = np.argwhere(inside)
    pts = bone.geometry.ijk_to_lps((kji + [s.start for s in box])[:, ::-1].astype(float))
    near = np.linalg.norm(pts - np.asarray(comp["centroid_lps"]), axis=1) < 120.0
    kji, pts = kji[near], pts[near]
    depth = -sdf[tuple(kji.T)]
    i = int(np.argmax(depth))
    c0, r0 = pts[i], float(depth[i])
    surface = pts[(depth < 1.5 * max(bone.geometry.spacing)) & (np.linalg.norm(pts - c0, axis=1) < 1.8 * r0)]
    if len(surface) < 50:
        raise PosteoInputError(f"{side} femoral head", "too few surface points around the deepest point of the femur")
    centre, radius, rms = _ransac_sphere(surface, tolerance_mm=max(1.0, float(max(bone.geometry.spacing))))
    return FemoralHead(side, centre, radius + 0.5 * float(min(bone.geometry.spacing)), rms)


def recognised_heads(bone) -> dict:
    """{side: FemoralHead} of the sides whose femur is a separate, recognised bone with a head that fits."""
    heads = {}
    for side in ("left", "right"):
        if femur_component(bone, side) is None:
            continue
        try:
            heads[side] = locate_femoral_head(bone, side)
        except PosteoInputError:
            continue
    return heads


NECK_SHELL_MM = (3.0, 18.0)  # the neck: femur voxels this far outside the head sphere


def neck_axis_lps(bone, head: FemoralHead) -> np.ndarray:
    """Unit vector (LPS) of the anatomical femoral-neck axis, from the head centre toward the neck: the direction to
    the centroid of the neck's cross-section in a shell just outside the head sphere. The shell also cuts the
    acetabular rim across the joint space; the neck is the piece lowest along the patient's superior (LPS z) axis."""
    from scipy import ndimage

    g = bone.geometry
    c, r = np.asarray(head.centre_lps, float), float(head.radius_mm)
    reach = r + NECK_SHELL_MM[1] + 2.0 * max(g.spacing)
    corners = np.array([[c[0] + sx * reach, c[1] + sy * reach, c[2] + sz * reach] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    ijk = g.lps_to_ijk(corners)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.array(g.size) - 1)
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 1, np.array(g.size))
    box = tuple(slice(lo[a], hi[a]) for a in (2, 1, 0))
    kji = np.argwhere(bone.sdf[box] < 0)
    pts = g.ijk_to_lps((kji + [lo[2], lo[1], lo[0]])[:, ::-1].astype(float))
    dist = np.linalg.norm(pts - c, axis=1)
    in_shell = (dist > r + NECK_SHELL_MM[0]) & (dist < r + NECK_SHELL_MM[1])
    shell_mask = np.zeros(bone.sdf[box].shape, bool)
    shell_mask[tuple(kji[in_shell].T)] = True
    labels, count = ndimage.label(shell_mask)
    pieces = [pts[in_shell][labels[tuple(kji[in_shell].T)] == k] for k in range(1, count + 1)]
    pieces = [p for p in pieces if len(p) * g.voxel_volume_mm3 >= 200.0]
    if not pieces:
        raise PosteoInputError(f"{head.side} femoral neck", "too little bone next to the femoral head to find the neck axis")
    # the shell cuts the neck and, across the joint space, the acetabular rim; the neck is the piece that descends
    # toward the shaft (lowest centroid in the patient's superior axis)
    neck = min(pieces, key=lambda p: float(p[:, 2].mean()))
    axis = neck.mean(axis=0) - c
    return axis / np.linalg.norm(axis)
