"""Segmentation of a bone lesion from a seed point (LPS mm) and its metrics.

Method (every threshold is a field of :class:`LesionParameters`):
1. work box: the bone model's grid (a crop of the CT grid, same spacing/direction) cut to a cube of
   ``box_half_size_mm`` around the seed;
2. locally closed envelope: the bone component (envelope labels 1..3, 6-connected in the box) nearest to the
   seed, closed by an exact Euclidean ball of ``closing_radius_mm`` (distance transforms).  A lesion that
   breaks through the cortex opens the bone model's envelope; the closing bridges the defect so that growth
   stops near the former bone surface instead of leaking into soft tissue.  Known limit: concavities of the
   bone narrower than the ball are bridged as well, and at a wide defect the bridge sags into the bone by
   ``R - sqrt(R^2 - a^2)`` (a = half the defect's width): where the lesion touches the closed surface, the lytic
   voxels inside the convex hull of the lesion and the bone within ``hull_shell_mm`` of it are added.  A seed
   outside the closed envelope (in destroyed bone: on a coarse CT the bone model's crater under a cortical defect
   may be wider than the closing bridges) is inside bone if the convex hull of the bone within
   ``closing_radius_mm`` of it holds it: that hull is added to the closed envelope;
3. abnormal voxels inside the closed envelope: lytic (HU < ``lytic_threshold_hu``, within ``tolerance_hu`` of the
   seed neighbourhood's mean and above ``fat_max_hu``: fat, epidural or marrow, is never lesion; and outside the
   bone model's no-go structures, sacral canal and foramina, greater sciatic notches, hip joint spaces: soft tissue
   the closing bridges, whose contents a lesion beside them must not grow into) or blastic (HU >= ``blastic_threshold_hu`` and deeper
   than ``cortex_depth_mm`` below the closed surface, i.e. not the cortex);
4. the lesion is the 6-connected component(s) of abnormal voxels meeting the seed ball (``seed_radius_mm``),
   after an opening of ``opening_radius_mm`` (erode, keep the seed's components, dilate back inside the abnormal
   voxels) that cuts the lesion from low-density (fatty) marrow joined to it by thin bridges;
   partial volume of a lytic lesion (lesions.partial_volume): the voxels within one original voxel of its edge
   count for the fraction of lesion their HU says between its level and its surroundings', and the mask takes
   that many of them, the lowest first;
5. type from the lesion's voxels: lytic if fewer than ``mixed_fraction`` are blastic, blastic if fewer than
   that are lytic, else mixed;
6. cross-sections perpendicular to the local long axis of the bone: the principal axis (largest variance) of
   the closed envelope's voxels within ``axis_radius_mm`` of the lesion centroid.
On a noisy CT (lesions.noise) the voxels of steps 3-4 are classified by the median of their 3 x 3 x 3 neighbourhood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, Delaunay

from ..bone.labels import BONE_LABELS, CANCELLOUS, METAL
from ..bone.nogo_distance import NogoDistance
from ..errors import PosteoInputError, check_parameters
from ..geometry.frames import ImageGeometry
from ..geometry.morphology import close_ball_mm
from .growth import ball as _ball
from .growth import contrast_threshold, grow, lytic_range
from .noise import classification_hu
from .partial_volume import partial_volume_mask

LESION_TYPES = ("lytic", "blastic", "mixed")


@dataclass
class LesionParameters:
    """Thresholds (HU) and sizes (mm) of the lesion segmentation."""

    lytic_threshold_hu: float = 100.0
    blastic_threshold_hu: float = 1000.0
    tolerance_hu: float = 150.0
    fat_max_hu: float = -40.0  # at or below: fat (epidural, pelvic, fatty marrow), never a lytic lesion
    seed_radius_mm: float = 3.0
    closing_radius_mm: float = 12.0
    box_half_size_mm: float = 60.0
    cortex_depth_mm: float = 4.0
    mixed_fraction: float = 0.2
    min_volume_ml: float = 0.05
    axis_radius_mm: float = 35.0
    angular_bins: int = 72
    hull_shell_mm: float = 6.0
    opening_radius_mm: float = 2.0

    def validate(self):
        check_parameters(self, "lesion parameter",
                         positive=("tolerance_hu", "seed_radius_mm", "closing_radius_mm", "box_half_size_mm", "axis_radius_mm"))
        if not self.lytic_threshold_hu < self.blastic_threshold_hu:
            raise PosteoInputError("lesion parameters", "lytic threshold must be below the blastic threshold")


@dataclass
class Lesion:
    """A segmented lesion: mask ``[k, j, i]`` inside ``box`` (slices of the bone model's grid) and its metrics (LPS mm)."""

    name: str
    geometry: ImageGeometry  # the bone model's grid
    box: tuple  # slices (k, j, i) of the bone grid holding ``mask``
    mask: np.ndarray
    volume_ml: float
    max_diameter_mm: float
    centroid_lps: np.ndarray
    hu_stats: dict
    type: str
    cortical_breakthrough: bool
    cortex_destroyed_fraction: float
    diameter_fraction: float
    long_axis_lps: np.ndarray
    worst_section_lps: np.ndarray
    seed_lps: np.ndarray
    closed_envelope: np.ndarray = field(repr=False, default=None)  # the locally closed envelope (box)
    warnings: list = field(default_factory=list)

    def full_mask(self) -> np.ndarray:
        """The lesion mask on the whole bone-model grid."""
        out = np.zeros(self.geometry.shape_kji, bool)
        out[self.box] = self.mask
        return out

    def points_lps(self) -> np.ndarray:
        """LPS centres of the lesion's voxels (N, 3)."""
        kji = np.argwhere(self.mask) + [s.start for s in self.box]
        return self.geometry.ijk_to_lps(kji[:, ::-1].astype(float))

    def to_dict(self) -> dict:
        return {"name": self.name, "volume_ml": self.volume_ml, "max_diameter_mm": self.max_diameter_mm,
                "centroid_lps": [float(v) for v in self.centroid_lps], "hu": dict(self.hu_stats), "type": self.type,
                "cortical_breakthrough": self.cortical_breakthrough,
                "cortex_destroyed_fraction": self.cortex_destroyed_fraction,
                "diameter_fraction": self.diameter_fraction,
                "long_axis_lps": [float(v) for v in self.long_axis_lps],
                "worst_section_lps": [float(v) for v in self.worst_section_lps],
                "seed_lps": [float(v) for v in self.seed_lps], "warnings": list(self.warnings)}


def ct_on_bone_grid(ct, bone) -> np.ndarray:
    """The CT's HU array cut to the bone model's grid (a view; the bone grid is a crop of the CT grid, or of its
    1 mm working grid for a coarse CT, see bone.ct_quality.working_ct)."""
    from ..bone.ct_quality import working_ct

    if not np.allclose(ct.geometry.spacing, bone.geometry.spacing):
        ct = working_ct(ct)
    off = np.rint(ct.geometry.lps_to_ijk(bone.geometry.origin_lps)).astype(int)[::-1]
    shape = bone.geometry.shape_kji
    if np.any(off < 0) or np.any(off + shape > ct.array.shape) or not np.allclose(ct.geometry.spacing, bone.geometry.spacing):
        raise PosteoInputError(ct.source, "the bone model was not built from this CT (its grid is not a crop of the CT's)")
    return ct.array[off[0]:off[0] + shape[0], off[1]:off[1] + shape[1], off[2]:off[2] + shape[2]]


def box_around(geometry: ImageGeometry, centre_kji, half_mm: float) -> tuple:
    """Slices (k, j, i) of a cube of ``half_mm`` around a voxel, clipped to the grid."""
    r = [int(np.ceil(half_mm / s)) for s in geometry.spacing[::-1]]
    return tuple(slice(max(0, int(c) - ri), min(n, int(c) + ri + 1)) for c, ri, n in zip(centre_kji, r, geometry.shape_kji))


def closed_component(envelope: np.ndarray, near_kji, radius_mm: float, spacing_kji) -> np.ndarray:
    """The envelope component nearest to voxel ``near_kji`` closed by an exact ball of ``radius_mm``.

    Beyond the array's border the envelope counts as present for the erosion (no false shrinking at the box edge).
    """
    lab, n = ndimage.label(envelope)
    if n == 0:
        return np.zeros_like(envelope)
    near = tuple(int(v) for v in near_kji)
    if lab[near] == 0:
        _, idx = ndimage.distance_transform_edt(lab == 0, sampling=spacing_kji, return_indices=True)
        comp = lab[tuple(idx[:, near[0], near[1], near[2]])]
    else:
        comp = lab[near]
    return close_ball_mm(lab == comp, radius_mm, spacing_kji)


def max_feret_mm(points: np.ndarray) -> float:
    """Largest distance between two of the points (mm), via their convex hull."""
    if len(points) < 2:
        return 0.0
    try:
        pts = points[ConvexHull(points).vertices]
    except Exception:  # flat or degenerate sets
        pts = points
    if len(pts) > 3000:
        pts = pts[np.random.default_rng(0).choice(len(pts), 3000, replace=False)]
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    return float(np.sqrt(d2.max()))


def _surface_voxels(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=1)


def _chord_width(b2, centre, u, step) -> float:
    """Width of the bone along the line through ``centre`` in direction ``u`` (the contiguous run holding the centre)."""
    n = np.array([-u[1], u[0]])
    on = np.abs((b2 - centre) @ n) <= step
    t = np.sort(np.append((b2[on] - centre) @ u, 0.0))
    gaps = np.nonzero(np.diff(t) > 2.0 * step)[0]
    starts = np.append(0, gaps + 1)
    ends = np.append(gaps, len(t) - 1)
    k = np.searchsorted(t[ends], 0.0)
    k = min(k, len(starts) - 1)
    return float(t[ends[k]] - t[starts[k]])


def _cross_sections(lesion_pts, bone_pts, rim_pts, rim_is_lesion, axis, spacing, bins):
    """Worst cross-section perpendicular to ``axis``: (cortex destroyed fraction, diameter fraction, position)."""
    t_les = lesion_pts @ axis
    t_bone = bone_pts @ axis
    t_rim = rim_pts @ axis
    e1 = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    half = 0.5 * max(spacing)
    best = (0.0, 0.0, lesion_pts.mean(axis=0))
    for t in np.arange(t_les.min(), t_les.max() + 1e-6, max(spacing)):
        ls = np.abs(t_les - t) <= half
        bs = np.abs(t_bone - t) <= half
        if ls.sum() < 2 or bs.sum() < 3:
            continue
        l2 = np.column_stack([lesion_pts[ls] @ e1, lesion_pts[ls] @ e2])
        b2 = np.column_stack([bone_pts[bs] @ e1, bone_pts[bs] @ e2])
        # lesion width along its widest direction in the section, over the bone's width along that direction
        d = l2[:, None, :] - l2[None, :, :] if len(l2) <= 2000 else None
        if d is not None:
            a, b = np.unravel_index(np.argmax((d ** 2).sum(-1)), d.shape[:2])
            u = l2[b] - l2[a]
            norm = np.linalg.norm(u)
            u = u / norm if norm > 0 else np.array([1.0, 0.0])
        else:
            u = np.linalg.svd(l2 - l2.mean(0), full_matrices=False)[2][0]
        lw = np.ptp(l2 @ u) + min(spacing)
        bw = _chord_width(b2, l2.mean(0), u, max(spacing)) + min(spacing)
        frac_d = min(1.0, lw / bw)
        rs = np.abs(t_rim - t) <= half
        frac_c = 0.0
        if rs.sum() >= 3:
            r2 = np.column_stack([rim_pts[rs] @ e1, rim_pts[rs] @ e2])
            ang = np.arctan2(*(r2 - b2.mean(0)).T[::-1])
            k = np.minimum(((ang + np.pi) / (2 * np.pi) * bins).astype(int), bins - 1)
            occupied = np.bincount(k, minlength=bins) > 0
            destroyed = np.bincount(k[rim_is_lesion[rs]], minlength=bins) > 0
            frac_c = float(destroyed.sum() / occupied.sum())
        if (frac_c, frac_d) > best[:2]:
            best = (frac_c, frac_d, t * axis + (lesion_pts[ls].mean(0) - (lesion_pts[ls].mean(0) @ axis) * axis))
    return best


def _inside_hull(points_mask, candidates, sp) -> np.ndarray:
    """The ``candidates`` voxels inside the convex hull of the ``points_mask`` voxels (spacing ``sp``, mm)."""
    out = np.zeros(candidates.shape, bool)
    kji = np.argwhere(points_mask).astype(float)
    try:
        hull = ConvexHull(kji * sp)
        tri = Delaunay(kji[hull.vertices] * sp)
    except Exception:  # too few or flat points: no hull
        return out
    lo, hi = kji.min(0).astype(int), kji.max(0).astype(int) + 1
    sub = tuple(slice(a, b) for a, b in zip(lo, hi))
    ck = np.argwhere(candidates[sub])
    if len(ck):
        out[sub][tuple(ck.T)] = tri.find_simplex((ck + lo) * sp) >= 0
    return out


def _crater_bridge(closed, env, seed_kji, radius_mm, sp) -> np.ndarray:
    """The voxels outside ``closed`` inside the convex hull of the envelope within ``radius_mm`` of the seed.

    Where a lesion breaks through a thin cortex over osteoporotic (below-threshold) cancellous bone, the bone model
    leaves a crater wider than the closing bridges, and a seed in the destroyed bone may lie in it; the convex hull
    of the bone around the seed spans the defect at the former surface (on a convex bone, at its chord)."""
    near = _ball(env.shape, seed_kji, radius_mm, sp)
    return _inside_hull(env & closed & near, near & ~closed, sp)


def _extend_to_hull(mask, lytic_open, closed, env, sp, shell_mm):
    """At a cortical defect the closing's bridge sags into the bone: add the lytic voxels connected to the
    lesion that lie inside the convex hull of the lesion and the bone within ``shell_mm`` of it."""
    near = env & (ndimage.distance_transform_edt(~mask, sampling=sp) <= shell_mm)
    inside = _inside_hull(mask | near, lytic_open & ~closed, sp)
    lab, _ = ndimage.label(mask | inside)
    ids = np.unique(lab[mask])
    return np.isin(lab, ids[ids > 0]), closed | inside


def segment_lesion(ct, bone, seed_lps, name: str = "lesion", params: LesionParameters | None = None) -> Lesion:
    """Segment the lesion around ``seed_lps`` (LPS mm) on the bone model's grid; see the module docstring."""
    params = params or LesionParameters()
    params.validate()
    seed = np.asarray(seed_lps, float).reshape(-1)
    src = f"lesion '{name}'"
    if seed.shape != (3,) or not np.all(np.isfinite(seed)):
        raise PosteoInputError(src, f"seed must be 3 finite LPS coordinates, got {seed.tolist()}")
    if not ct.geometry.contains_lps(seed[None])[0]:
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies outside the CT image")
    g = bone.geometry
    if not g.contains_lps(seed[None])[0]:
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies outside bone (beyond the bone model's region)")
    hu_all = ct_on_bone_grid(ct, bone)
    seed_kji = np.rint(g.lps_to_ijk(seed)).astype(int)[::-1]
    box = box_around(g, seed_kji, params.box_half_size_mm + params.closing_radius_mm)
    raw = np.asarray(hu_all[box], np.float32)
    labels = bone.labels[box]
    hu, noise_sd = classification_hu(raw, labels == 0)  # on a noisy CT: voxels classified on their neighbourhood's median
    sp = np.asarray(g.spacing[::-1], float)
    local_seed = seed_kji - [s.start for s in box]
    env = np.isin(labels, BONE_LABELS)
    if not env.any():
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies outside bone: no bone within "
                                    f"{params.box_half_size_mm:.0f} mm")
    closed = closed_component(env, local_seed, params.closing_radius_mm, sp)
    # the closing bridges the sacral canal and foramina, a notch, a joint space: soft tissue no lytic lesion grows into
    nogo = bone.nogo_structures()
    soft = NogoDistance(nogo).inside_mask(g, box) if nogo else np.zeros(hu.shape, bool)
    ball = _ball(hu.shape, local_seed, params.seed_radius_mm, sp)
    seed_hu = float(hu[tuple(local_seed)])
    if not closed[tuple(local_seed)]:  # a seed in destroyed bone, in the crater the bone model leaves
        closed |= _crater_bridge(closed, env, local_seed, params.closing_radius_mm, sp)
    if not closed[tuple(local_seed)]:
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies outside bone (HU {seed_hu:.0f}, "
                                    "not inside the locally closed bone envelope)")
    seed_mean = float(hu[ball & closed].mean())
    depth = ndimage.distance_transform_edt(closed, sampling=sp)
    in_range = lytic_range(hu, seed_mean, params)
    lytic = closed & ~soft & (hu < params.lytic_threshold_hu) & in_range
    blastic = closed & (hu >= params.blastic_threshold_hu) & (depth > params.cortex_depth_mm) & (labels != METAL)
    if seed_mean >= params.blastic_threshold_hu and depth[tuple(local_seed)] <= params.cortex_depth_mm:
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies in intact cortical bone "
                                    f"(mean {seed_mean:.0f} HU within {params.cortex_depth_mm} mm of the bone surface): no lesion there")
    if params.lytic_threshold_hu <= seed_mean < params.blastic_threshold_hu:
        raise PosteoInputError(src, f"seed {np.round(seed, 1).tolist()} (LPS mm) lies in bone of normal density (mean "
                                    f"{seed_mean:.0f} HU within {params.seed_radius_mm} mm; lytic < {params.lytic_threshold_hu:.0f}, "
                                    f"blastic >= {params.blastic_threshold_hu:.0f} HU): no lesion found")
    lytic_threshold = params.lytic_threshold_hu
    lytic_open = ~soft & (hu < lytic_threshold) & in_range
    abnormal = lytic | blastic
    mask = grow(abnormal, ball, sp, params.opening_radius_mm)
    if seed_mean < params.lytic_threshold_hu:
        # osteoporotic bone: the surroundings may themselves read below the lytic threshold (cancellous 50-150 HU,
        # fatty marrow near 0); bound the lesion by contrast with its own surroundings instead
        # the surroundings: cancellous bone deeper than one original voxel (on a coarse CT the cortex is averaged into
        # the voxels next to it, which would raise the background and flood the lesion into the cancellous bone)
        cancellous = closed & (labels == CANCELLOUS)
        deep = cancellous & (depth >= float(max(bone.ct_geometry.spacing)))
        lytic_threshold = contrast_threshold(hu, mask, cancellous, ball, seed_mean, sp, params, first_guess=deep)
        if lytic_threshold < params.lytic_threshold_hu:
            # at a low contrast, noise leaves holes in the lesion (and the opening would widen them): a lytic lesion is solid
            lytic = ndimage.binary_fill_holes(closed & (hu < lytic_threshold) & in_range) & ~soft
            lytic_open = ~soft & (hu < lytic_threshold) & in_range
            mask = grow(lytic | blastic, ball, sp, params.opening_radius_mm)
    voxel_ml = g.voxel_volume_mm3 / 1000.0
    region = closed
    if mask.any() and (ndimage.binary_dilation(mask) & ~closed).any():
        mask, region = _extend_to_hull(mask, lytic_open, closed, env, sp, params.hull_shell_mm)
    if mask.any() and lytic[mask].mean() >= 0.5:
        # partial volume: the lesion's edge, spread over about one original voxel, counts for the fraction of lesion its HU says
        mask = partial_volume_mask(mask, raw, region & ~soft & (labels != METAL), closed & (labels == CANCELLOUS),
                                   float(max(bone.ct_geometry.spacing)), sp)
    if mask.sum() * voxel_ml < params.min_volume_ml:
        raise PosteoInputError(src, f"no lesion at seed {np.round(seed, 1).tolist()} (LPS mm): only {mask.sum() * voxel_ml:.3f} mL "
                                    f"of lytic/blastic bone connected to it (minimum {params.min_volume_ml} mL)")
    warnings = []
    if hu is not raw:
        warnings.append(f"noisy CT ({noise_sd:.0f} HU of noise around the lesion): its voxels were told from the bone by the "
                        "median of their 3 x 3 x 3 neighbourhood")
    if any(np.any(np.take(mask, [0, -1], axis=ax)) for ax in range(3)):
        warnings.append(f"the lesion reaches the {params.box_half_size_mm:.0f} mm search box: it may be larger than segmented")
    offset = np.array([s.start for s in box])
    kji = np.argwhere(mask)
    pts = g.ijk_to_lps((kji + offset)[:, ::-1].astype(float))
    vals = raw[mask]
    n_blastic = int(blastic[mask].sum())
    n_lytic = int(lytic[mask].sum())
    if n_blastic < params.mixed_fraction * len(vals):
        kind = "lytic"
    elif n_lytic < params.mixed_fraction * len(vals):
        kind = "blastic"
    else:
        kind = "mixed"
    # breakthrough: the lesion touches the locally closed envelope's surface (no bone between it and soft tissue)
    shell = ndimage.binary_dilation(mask) & ~mask
    outside_touch = int((shell & ~closed).sum())
    breakthrough = outside_touch * min(g.spacing) ** 2 >= 4.0  # at least ~4 mm^2 of open surface
    # local long axis of the bone
    closed_kji = np.argwhere(closed)
    closed_pts = g.ijk_to_lps((closed_kji + offset)[:, ::-1].astype(float))
    centroid = pts.mean(axis=0)
    near = np.linalg.norm(closed_pts - centroid, axis=1) <= params.axis_radius_mm
    bone_pts = closed_pts[near]
    w, v = np.linalg.eigh(np.cov((bone_pts - bone_pts.mean(0)).T))
    axis = v[:, -1]
    rim = _surface_voxels(closed)
    rim_kji = np.argwhere(rim)
    rim_pts = g.ijk_to_lps((rim_kji + offset)[:, ::-1].astype(float))
    rim_keep = np.linalg.norm(rim_pts - centroid, axis=1) <= params.axis_radius_mm
    rim_is_lesion = mask[tuple(rim_kji[rim_keep].T)]
    cortex_frac, diam_frac, worst = _cross_sections(pts, bone_pts, rim_pts[rim_keep], rim_is_lesion, axis,
                                                    g.spacing, int(params.angular_bins))
    surf = pts[_surface_voxels(mask)[mask]]
    feret = max_feret_mm(surf) + float(np.mean(g.spacing))
    return Lesion(name=name, geometry=g, box=box, mask=mask, volume_ml=float(mask.sum() * voxel_ml), max_diameter_mm=feret,
                  centroid_lps=centroid,
                  hu_stats={"mean": float(vals.mean()), "sd": float(vals.std()), "p5": float(np.percentile(vals, 5)),
                            "p95": float(np.percentile(vals, 95)), "seed_neighbourhood_mean": seed_mean},
                  type=kind, cortical_breakthrough=bool(breakthrough), cortex_destroyed_fraction=float(cortex_frac),
                  diameter_fraction=float(diam_frac), long_axis_lps=axis, worst_section_lps=np.asarray(worst, float),
                  seed_lps=seed, closed_envelope=closed, warnings=warnings)
