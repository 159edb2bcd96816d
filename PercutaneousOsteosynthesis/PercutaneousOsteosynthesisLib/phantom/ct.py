"""The built-in CT phantom: a deterministic synthetic pelvis-and-proximal-femur CT in HU, with its ground truth.

``make_phantom`` renders :mod:`phantom_anatomy` on a voxel grid of any direction matrix; ``phantom_truth``
integrates the analytic anatomy (volumes by Monte Carlo with a fixed seed, clearances along known screw paths
on a 0.02 mm step); ``write_phantom`` writes ``OUT.nrrd`` and ``OUT.truth.json``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..fileio.atomic import write_json_atomic
from ..fileio.volume import CTVolume, write_image
from ..geometry.frames import ImageGeometry
from ..geometry.resample import block_average
from ..geometry.vectors import unit
from .anatomy import Anatomy, build_anatomy
from .shapes import clipped_union_sdf

HU = {"air": -1000.0, "fat": -100.0, "muscle": 45.0, "joint": 55.0, "cortex": 1500.0, "cancellous": 250.0,
      "medullary": 10.0, "lesion": 40.0, "metal": 3000.0}
CORTEX_MM = 2.5
FINE_RENDER_MM = 1.0  # partial-volume phantoms: coarser axes are rendered at this spacing or finer and averaged
# Bone of the patients this tool is for (cancer patients, often elderly): HU and cortex thickness per preset.
# "elderly": thin cortex (0.8-1.5 mm: 1.0), cancellous 50-150 HU (90), fatty marrow (0 HU) in the femoral shafts,
# necks and sacral ala, lytic lesions 20-40 HU (30).
PRESETS = {
    "default": {"hu": {}, "cortex_mm": CORTEX_MM, "fatty_marrow": False},
    "osteoporotic": {"hu": {"cortex": 1000.0, "cancellous": 100.0}, "cortex_mm": 1.2, "fatty_marrow": False},
    "elderly": {"hu": {"cortex": 900.0, "cancellous": 90.0, "medullary": 0.0, "lesion": 30.0}, "cortex_mm": 1.0, "fatty_marrow": True},
}


def rotation(axis: str, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped": np.diag([-1.0, -1.0, 1.0]),  # stored as RAS would be
    "oblique": rotation("z", 8.0) @ rotation("x", 5.0) @ np.diag([1.0, -1.0, -1.0]),
}


def direction_matrix(direction) -> np.ndarray:
    if isinstance(direction, str):
        return DIRECTIONS[direction]
    d = np.asarray(direction, float).reshape(3, 3)
    if not np.allclose(d.T @ d, np.eye(3), atol=1e-6):
        raise ValueError("direction must be orthonormal")
    return d


def covering_geometry(lo_lps, hi_lps, spacing, direction) -> ImageGeometry:
    """The smallest grid with this spacing and direction whose voxel centres cover the LPS box [lo, hi]."""
    d = direction_matrix(direction)
    sp = np.broadcast_to(np.asarray(spacing, float), (3,))
    corners = np.array([[x, y, z] for x in (lo_lps[0], hi_lps[0]) for y in (lo_lps[1], hi_lps[1]) for z in (lo_lps[2], hi_lps[2])])
    idx = (corners @ d) / sp  # continuous index relative to the LPS origin
    lo_i = np.floor(idx.min(axis=0))
    size = (np.ceil(idx.max(axis=0)) - lo_i + 1).astype(int)
    origin = d @ (sp * lo_i)
    return ImageGeometry(tuple(int(v) for v in size), tuple(float(v) for v in sp), tuple(float(v) for v in origin),
                         tuple(float(v) for v in d.ravel()))


def _render_slab(anat: Anatomy, p: np.ndarray, hu: dict, cortex_mm: float, fatty_marrow: bool = False) -> np.ndarray:
    """HU at LPS points p (N, 3), sampled at the points (no partial volume)."""
    a, b = anat.body_semi_axes
    r_body = np.hypot(p[:, 0] / a, p[:, 1] / b)
    f = anat.fat_thickness
    r_inner = np.hypot(p[:, 0] / (a - f), p[:, 1] / (b - f))
    out = np.where(r_body <= 1.0, np.where(r_inner <= 1.0, hu["muscle"], hu["fat"]), hu["air"])
    lo, hi = anat.bounds()
    near = (p[:, 0] >= lo[0] - 1) & (p[:, 0] <= hi[0] + 1)
    for a in (1, 2):
        near &= (p[:, a] >= lo[a] - 1) & (p[:, a] <= hi[a] + 1)
    if not near.any():
        return out
    q = p[near]
    v = out[near]
    bone_d = clipped_union_sdf(anat.bone, q, cortex_mm + 2.0)
    if anat.nogo:  # the neural tunnels are soft tissue lined by cortex
        bone_d = np.maximum(bone_d, -clipped_union_sdf(anat.nogo, q, cortex_mm + 2.0))
    inside = bone_d < 0
    # the cortex layer is closed at its inner boundary: on a grid whose planes coincide with a surface, a 1 mm cortex
    # sampled every 1 mm has a sample on each boundary and would otherwise show none
    v = np.where(inside, np.where(-bone_d <= cortex_mm, hu["cortex"], hu["cancellous"]), v)
    marrow = anat.medullary + (anat.fatty_marrow if fatty_marrow else [])
    v = np.where(inside & (-bone_d > cortex_mm) & (clipped_union_sdf(marrow, q, 0.0) < 0), hu["medullary"], v)  # never the cortex
    v = np.where(~inside & (clipped_union_sdf(anat.joints, q, 0.0) < 0), hu["joint"], v)
    if hu.get("contrast") is not None and anat.vessels:
        v = np.where(~inside & (clipped_union_sdf(anat.vessels, q, 0.0) < 0), hu["contrast"], v)
    for les in anat.lesions:
        v = np.where(np.linalg.norm(q - les.center, axis=1) < les.radius, hu["lesion"], v)
    v = np.where(clipped_union_sdf(anat.metal, q, 0.0) < 0, hu["metal"], v)
    out[near] = v
    return out


def make_phantom(spacing=1.0, direction="oblique", osteoporotic: bool = False, noise_hu: float = 15.0,
                 blur_mm: float = 0.5, seed: int = 0, progress=None, preset: str | None = None,
                 closed_pathway: str | None = None, partial_volume: bool = False,
                 contrast_hu: float | None = None) -> tuple[CTVolume, dict]:
    """Render the phantom CT (int16 HU values held as float32) and return it with its truth dictionary (LPS mm).

    ``direction``: "identity", "flipped", "oblique" (default: flipped and rotated axes) or a 3x3 matrix.
    ``preset``: a key of PRESETS ("default", "osteoporotic", "elderly"); ``osteoporotic=True`` is "osteoporotic".
    ``closed_pathway``: see phantom.anatomy.build_anatomy (a pelvis in which that pathway takes no screw).
    Voxels are sampled at their centres; ``partial_volume``: an axis coarser than ``FINE_RENDER_MM`` is rendered at
    an integer fraction of its spacing no coarser than that and averaged (geometry.resample.block_average), so that
    each voxel holds the mean HU of its volume as in a thick reconstruction (a 1 mm cortex sampled at the centres of
    3 mm voxels is missed by most of them, which no CT does). ``contrast_hu``: the pelvic wall vessels (1 mm from the
    medial acetabular wall) read this HU, as after contrast injection (``truth["vessels"]``: their capsules); None:
    they are muscle. ``progress(fraction, message)`` is called while rendering.
    """
    preset = preset or ("osteoporotic" if osteoporotic else "default")
    if preset not in PRESETS:
        raise ValueError(f"unknown phantom preset {preset!r}; one of {sorted(PRESETS)}")
    spacing_ijk = np.broadcast_to(np.asarray(spacing, float), (3,))
    factors = np.ceil(spacing_ijk / FINE_RENDER_MM - 1e-6).astype(int)
    if partial_volume and np.any(factors > 1):
        fine, truth = make_phantom(spacing_ijk / factors, direction, osteoporotic, noise_hu, blur_mm, seed, progress, preset,
                                   closed_pathway, contrast_hu=contrast_hu)
        arr, geo = block_average(fine.array, fine.geometry, factors)
        truth["grid"] = geo.to_dict()
        return CTVolume(np.rint(arr), geo, "<phantom>", "", {"phantom": True}), truth
    anat = build_anatomy(closed_pathway)
    hu = dict(HU, **PRESETS[preset]["hu"], contrast=contrast_hu)
    cortex_mm = PRESETS[preset]["cortex_mm"]
    fatty = PRESETS[preset]["fatty_marrow"]
    geo = covering_geometry(anat.fov_lo, anat.fov_hi, spacing, direction)
    ni, nj, nk = geo.size
    jj, ii = np.meshgrid(np.arange(nj, dtype=float), np.arange(ni, dtype=float), indexing="ij")
    plane = np.column_stack([ii.ravel(), jj.ravel(), np.zeros(ii.size)])
    arr = np.empty(geo.shape_kji, np.float32)

    def render(k):
        ijk = plane.copy()
        ijk[:, 2] = k
        arr[k] = _render_slab(anat, geo.ijk_to_lps(ijk), hu, cortex_mm, fatty).reshape(nj, ni)

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL in the heavy loops
        for n, _ in enumerate(pool.map(render, range(nk))):
            if progress and n % 16 == 0:
                progress(0.8 * n / nk, "rendering phantom")
    if blur_mm > 0:
        arr = ndimage.gaussian_filter(arr, sigma=[blur_mm / s for s in geo.spacing[::-1]], mode="nearest")
    rng = np.random.default_rng(seed)
    arr += rng.normal(0.0, noise_hu, arr.shape).astype(np.float32)
    arr = np.clip(np.rint(arr), -1024, 3071).astype(np.int16).astype(np.float32)
    if progress:
        progress(0.9, "phantom ground truth")
    truth = phantom_truth(anat, cortex_mm)
    truth["grid"] = geo.to_dict()
    truth["hu"] = hu
    truth["osteoporotic"] = preset != "default"
    truth["preset"] = preset
    truth["closed_pathway"] = closed_pathway
    if contrast_hu is not None:
        truth["vessels"] = [{"name": v.name, "a_lps": np.asarray(v.a).tolist(), "b_lps": np.asarray(v.b).tolist(),
                             "radius_mm": v.radius} for v in anat.vessels]
    if progress:
        progress(1.0, "phantom ready")
    return CTVolume(arr, geo, "<phantom>", "", {"phantom": True}), truth


def _monte_carlo_volumes(anat: Anatomy, cortex_mm: float, n: int = 2_000_000, seed: int = 12345) -> dict:
    lo, hi = anat.bounds()
    rng = np.random.default_rng(seed)
    box = float(np.prod(hi - lo))
    counts = {"bone": 0, "cortex": 0, "metal": 0, "nogo": 0}
    chunk = 500_000
    for start in range(0, n, chunk):
        p = lo + rng.random((min(chunk, n - start), 3)) * (hi - lo)
        d = clipped_union_sdf(anat.bone, p, cortex_mm + 1.0)
        if anat.nogo:
            tunnel = clipped_union_sdf(anat.nogo, p, cortex_mm + 1.0)
            counts["nogo"] += int(((d < 0) & (tunnel < 0)).sum())
            d = np.maximum(d, -tunnel)
        inside = d < 0
        metal = clipped_union_sdf(anat.metal, p, 0.0) < 0
        in_lesion = np.zeros(len(p), bool)
        for l in anat.lesions:
            in_lesion |= inside & (np.linalg.norm(p - l.center, axis=1) < l.radius)
        counts["bone"] += int(inside.sum())
        counts["cortex"] += int((inside & (-d < cortex_mm) & ~in_lesion & ~metal).sum())
        counts["metal"] += int(metal.sum())
    ml = box / n / 1000.0
    return {"bone_ml": counts["bone"] * ml, "cortex_ml": counts["cortex"] * ml, "metal_ml": counts["metal"] * ml,
            "nogo_ml": counts["nogo"] * ml, "lesions_ml": [_lesion_in_bone_ml(anat, l) for l in anat.lesions]}


def _lesion_in_bone_ml(anat: Anatomy, lesion, n: int = 400_000, seed: int = 12345) -> float:
    """Volume of the part of a lesion inside the bone envelope (the destroyed bone; a part beyond the former bone
    surface is soft tissue): the ball's exact volume times the fraction of uniform samples in the ball inside the
    envelope (Monte Carlo in the ball, ~0.1 % standard error, not in the whole pelvis's box where a lesion holds a
    few hundred samples)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    p = lesion.center + lesion.radius * d / np.linalg.norm(d, axis=1)[:, None] * rng.random((n, 1)) ** (1.0 / 3.0)
    inside = clipped_union_sdf(anat.bone, p, 1.0) < 0
    if anat.nogo:
        inside &= clipped_union_sdf(anat.nogo, p, 1.0) >= 0
    return float(4.0 / 3.0 * np.pi * lesion.radius ** 3 * inside.mean() / 1000.0)


def path_truth(anat: Anatomy, name: str, entry, tip, diameter_mm: float, safe: bool, step: float = 0.02) -> dict:
    """Exact clearance truth of a straight screw path (clearance = depth of the axis point in the envelope - radius)."""
    entry, tip = np.asarray(entry, float), np.asarray(tip, float)
    length = float(np.linalg.norm(tip - entry))
    s = np.arange(0.0, length + step / 2, step)
    pts = entry + s[:, None] * unit(tip - entry)
    sdf = anat.envelope_sdf(pts)
    clearance = -sdf - diameter_mm / 2
    i = int(np.argmin(clearance))
    exact = bool(anat.exact_mask(pts[i:i + 1])[0])
    return {"name": name, "entry_lps": entry.tolist(), "tip_lps": tip.tolist(), "diameter_mm": diameter_mm,
            "length_mm": length, "min_clearance_mm": float(clearance[i]), "min_clearance_at_mm": float(s[i]),
            "min_clearance_exact": exact, "breach_length_mm": float((clearance < 0).sum() * step),
            "bone_fraction": float((sdf < 0).mean()), "safe": safe}


def _entry_keeping_min_at_tip(anat: Anatomy, tip, outward, diameter_mm: float, step: float = 0.1):
    """The point farthest from ``tip`` along ``outward`` such that the clearance never drops below the tip's."""
    c_tip = -anat.envelope_sdf(tip[None])[0] - diameter_mm / 2
    s = np.arange(0.0, 200.0, step)
    c = -anat.envelope_sdf(tip + s[:, None] * outward) - diameter_mm / 2
    drop = np.nonzero((s > 1.0) & (c < c_tip + 0.5))[0]
    last = (drop[0] if len(drop) else len(s)) - 1
    return tip + s[last] * outward


def _screw_paths(anat: Anatomy) -> list[dict]:
    lm = anat.landmarks
    paths = []
    head, neck = lm["femoral_head_center_left_lps"], lm["neck_axis_left_lps"]
    # femoral neck screw on the neck axis: tip 12 mm beyond the head centre, entry 30 mm lateral to the neck end
    tip = head - 12.0 * neck
    entry = _entry_keeping_min_at_tip(anat, tip, neck, 7.3)
    paths.append(path_truth(anat, "left femoral neck (safe)", entry, tip, 7.3, True))
    # iliosacral screw at S1 level from the left ilium across the sacroiliac joint to the sacral midline
    c, e1, e2, e3 = lm["sacrum_frame"]
    entry = c + 62.0 * e1 + 12.0 * e2
    tip = c - 5.0 * e1 + 12.0 * e2
    paths.append(path_truth(anat, "left iliosacral S1 (safe, crosses the sacroiliac joint)", entry, tip, 7.3, True))
    # supra-acetabular screw aimed too low: through the acetabular roof into the hip joint and the head
    head = lm["femoral_head_center_left_lps"]
    a1, a2 = lm["supra_acetabular_axis_left_lps"]
    entry = a2
    tip = head + 10.0 * unit(a2 - head)
    paths.append(path_truth(anat, "left supra-acetabular into the hip joint (unsafe)", entry, tip, 7.3, False))
    # a screw leaving the left iliac wing through its inner table
    wing = anat.part("left iliac wing")
    entry = wing.center - 20.0 * wing.rotation[:, 0]
    tip = wing.center + 30.0 * wing.rotation[:, 0] + 12.0 * wing.rotation[:, 2]
    paths.append(path_truth(anat, "left iliac wing exiting the inner table (unsafe)", entry, tip, 6.5, False))
    return paths


def phantom_truth(anat: Anatomy | None = None, cortex_mm: float = CORTEX_MM) -> dict:
    """Ground truth of the phantom in LPS mm (JSON-ready)."""
    anat = anat or build_anatomy()
    vol = _monte_carlo_volumes(anat, cortex_mm)
    lm = anat.landmarks
    lesions = [{"name": l.name, "center_lps": l.center.tolist(), "radius_mm": l.radius, "volume_ml": v,
                "breaks_cortex": l.breaks_cortex} for l, v in zip(anat.lesions, vol["lesions_ml"])]
    landmarks = {k: (np.asarray(v).tolist()) for k, v in lm.items() if k.endswith("_lps") and not isinstance(v, tuple)}
    landmarks["femoral_head_radius_mm"] = 23.0
    metal = [{"name": m.name, "a_lps": np.asarray(m.a).tolist(), "b_lps": np.asarray(m.b).tolist(), "radius_mm": m.radius}
             for m in anat.metal]
    nogo = [{"name": t.name, "a_lps": np.asarray(t.a).tolist(), "b_lps": np.asarray(t.b).tolist(), "radius_mm": t.radius}
            for t in anat.nogo]
    return {"coordinate_system": "LPS", "units": "mm", "bone_volume_ml": vol["bone_ml"], "cortex_volume_ml": vol["cortex_ml"],
            "cortex_thickness_mm": cortex_mm, "metal_volume_ml": vol["metal_ml"], "metal": metal, "nogo": nogo,
            "nogo_volume_ml": vol["nogo_ml"], "lesions": lesions,
            "landmarks": landmarks, "screw_paths": _screw_paths(anat),
            "notes": "bone volume includes lesions and metal inside the envelope; the sacroiliac joint gaps are not bone "
                     "but are crossable; volumes by Monte Carlo (2e6 samples, ~0.3 % standard error); a lesion's volume is "
                     "its part inside the bone envelope (4e5 samples in its ball, ~0.1 %)."}


def write_phantom(out_path, progress=None, corridors: bool = False, **kwargs) -> tuple[Path, Path]:
    """Write the phantom CT (``.nrrd``/``.nii.gz``/``.mha``, int16) and ``<stem>.truth.json`` beside it;
    ``corridors``: the truth also holds the osseous fixation pathways (phantom.corridor_truth; about a minute)."""
    out_path = Path(out_path)
    ct, truth = make_phantom(progress=progress, **kwargs)
    if corridors:
        from .corridor_truth import corridor_truth

        truth["corridors"] = corridor_truth(build_anatomy(kwargs.get("closed_pathway")))
    write_image(out_path, ct.array.astype(np.int16), ct.geometry)
    name = out_path.name  # the image's extension off (``.nii.gz`` is two), not everything after the first dot ("ct_1.5mm")
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else out_path.stem
    truth_path = out_path.with_name(stem + ".truth.json")
    write_json_atomic(truth_path, truth)
    return out_path, truth_path
