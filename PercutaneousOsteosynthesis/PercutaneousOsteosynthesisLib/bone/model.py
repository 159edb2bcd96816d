"""The bone model: bone envelope, cortex, cancellous bone, metal and crossable joints from a CT in HU,
with a signed distance field (mm) to the outer bone surface, the basis of every clearance check.

Method (thresholds are parameters):
1. candidate bone = HU >= ``bone_threshold_hu``; connected components smaller than ``min_component_ml`` dropped; on a
   native grid, contrast-enhanced soft tissue (vessels, bladder: no cortex, see :mod:`bone.contrast`) left out;
2. each component is closed (``closing_radius_mm``) and its holes filled on its own, so that marrow, lesions
   and osteoporotic cancellous bone inside the cortex belong to the envelope while joint gaps between bones
   stay open; images cut through a bone (e.g. the top slice through L4) are handled by filling the cut face;
   voxels enclosed in the 2D slices of at least two of the three orientations are added too: a lytic defect
   through a thin osteoporotic cortex (cancellous bone below the threshold) opens the shell in 3D but not in
   most slices, while tunnels (spinal canal, foramina) and bowls (acetabulum) stay open;
3. cortex = envelope with HU >= ``cortex_threshold_hu``; metal = HU >= ``metal_threshold_hu`` (an obstacle);
4. joints meant to be crossed (sacroiliac): the gap between the midline bone (sacrum) and a lateral bone,
   no wider than ``joint_max_gap_mm``, in the posterior half of the pelvis.  The hip joint is not crossable;
5. signed distance field (mm, negative inside) to the envelope plus crossable joints, in the bone's bounding
   box grown by ``margin_mm``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import PosteoInputError, check_parameters
from ..fileio.volume import CTVolume
from ..geometry import morphology
from ..geometry.bounding_box import bounding_box
from ..geometry.distance_transform import fast_transform_available
from ..geometry.frames import ImageGeometry
from ..geometry.morphology import ball_radius_voxels
from ..geometry.sampling import VolumeSampler
from ..geometry.voxel_index import nonzero_kji
from .components import component_summary, midline_x_of_labels, name_components
from .contrast import contrast_components, contrast_pieces, contrast_structure
from .craters import fill_craters
from .ct_quality import assess_ct_quality, sacral_tunnels_resolved, working_ct
from .distance_field import signed_distance_mm
from .enclosure import fill_enclosed_cavities
from .envelope import candidate_components, fill_component, label_map, place_surface
from .femoral_head import recognised_heads
from .heap import reusing_freed_memory
from .hip_joint import find_hip_joints
from .hip_split import split_merged_femurs
from .joints import crossable_joints, joint_reach_voxels, joint_valleys, readd_one_sided
from .labels import CANCELLOUS, CORTEX, JOINT, LABEL_NAMES, METAL, SOFT_TISSUE_HU  # noqa: F401  (re-exported for callers)
from .lumbar_split import split_lumbar_component
from .nogo import find_sacral_nogo
from .ring_split import split_pelvic_ring
from .sciatic_notch import find_sciatic_notches


@dataclass
class BoneParameters:
    """Thresholds (HU) and sizes (mm, mL) of the bone model."""

    bone_threshold_hu: float = 200.0
    # on a coarse CT (an axis above 1.1 mm, see bone.ct_quality) a thin cortex averaged with marrow and muscle reads lower: 1 mm of 900 HU
    # cortex in a 3 mm voxel is about 350 HU at best and below 200 HU where the voxel straddles it
    coarse_bone_threshold_hu: float = 165.0
    cortex_threshold_hu: float = 600.0
    metal_threshold_hu: float = 2500.0
    closing_radius_mm: float = 2.0
    min_component_ml: float = 1.0
    joint_max_gap_mm: float = 6.0
    margin_mm: float = 30.0

    def validate(self):
        check_parameters(self, "bone parameter", non_negative=("closing_radius_mm", "min_component_ml", "joint_max_gap_mm", "margin_mm"))
        if not self.coarse_bone_threshold_hu <= self.bone_threshold_hu:
            raise PosteoInputError("bone parameters", f"the coarse-CT bone threshold ({self.coarse_bone_threshold_hu}) must not exceed "
                                                      f"the bone threshold ({self.bone_threshold_hu})")
        if not self.bone_threshold_hu < self.cortex_threshold_hu < self.metal_threshold_hu:
            raise PosteoInputError("bone parameters", "thresholds must satisfy bone < cortex < metal "
                                   f"({self.bone_threshold_hu}, {self.cortex_threshold_hu}, {self.metal_threshold_hu})")


@dataclass
class BoneModel:
    """Labels and signed distance field on a grid cropped around the bone (LPS geometry)."""

    geometry: ImageGeometry
    labels: np.ndarray  # uint8 [k, j, i]: 0 outside, 1 cortex, 2 cancellous/marrow/lesion, 3 metal, 4 crossable joint
    sdf: np.ndarray  # float32 [k, j, i], mm to the outer surface of bone + crossable joints, negative inside
    parameters: BoneParameters
    ct_geometry: ImageGeometry
    components: list = field(default_factory=list)
    source: str = ""
    sha256: str = ""
    ct_quality: dict = field(default_factory=dict)  # see bone.ct_quality: spacing level, added margin, message
    component_labels: np.ndarray | None = field(default=None, repr=False)  # uint16 [k, j, i]: components[n]["label"] per voxel
    _sampler: VolumeSampler | None = field(default=None, repr=False)
    _surface: object = field(default=None, repr=False)
    _pelvis_surface: object = field(default=None, repr=False)
    # bone.nogo.NogoStructure (LPS): sacral canal and foramina, hip joints, sciatic notches, opacified vessels and organs
    nogo: list = field(default_factory=list, repr=False)
    # craters filled where a lesion broke through the cortex (bone.craters): volume_ml, centre_lps, bone_label
    filled_craters: list = field(default_factory=list)
    contrast_ml: float = 0.0  # candidate bone left out as contrast-enhanced soft tissue (bone.contrast), mL

    def nogo_structures(self) -> list:
        """The no-go structures found from the CT: sacral canal and foramina, hip joints, greater sciatic notches, and the
        contrast-enhanced vessels and organs left out of the bone (none on a coarse CT: ``ct_quality`` says not
        assessed)."""
        return self.nogo

    @property
    def envelope(self) -> np.ndarray:
        """Bone envelope mask (cortex + cancellous + metal inside bone), joints excluded."""
        return (self.labels >= CORTEX) & (self.labels <= METAL)

    def including(self, masks) -> BoneModel:
        """A copy whose envelope also holds ``masks`` ([k, j, i] on this grid: lesions segmented inside the bone, so
        that a lesion breaking through the cortex still counts as inside the bone), signed distance recomputed."""
        labels = self.labels.copy()
        added = np.zeros(labels.shape, bool)
        for m in masks:
            added |= np.asarray(m, bool)
        if not added.any():
            return self
        # the partial-volume rim between a lesion and the bone around it (neither bone nor lesion by HU) is closed too
        near = morphology.dilate(added, 2)
        closed = morphology.close(np.pad((labels > 0) | added, 2), 2)[2:-2, 2:-2, 2:-2]
        labels[(added | (closed & near)) & (labels == 0)] = CANCELLOUS
        sdf = signed_distance_mm(labels, self.geometry)
        return BoneModel(self.geometry, labels, sdf, self.parameters, self.ct_geometry, self.components, self.source, self.sha256,
                         self.ct_quality, self.component_labels, nogo=self.nogo, filled_craters=self.filled_craters,
                         contrast_ml=self.contrast_ml)

    def sampler(self) -> VolumeSampler:
        """Trilinear sampler of the signed distance field; outside the grid it reads ``margin_mm``."""
        if self._sampler is None:
            self._sampler = VolumeSampler(self.sdf, self.geometry, outside_value=self.parameters.margin_mm)
        return self._sampler

    def signed_distance_lps(self, points_lps) -> np.ndarray:
        """Signed distance (mm, negative inside bone) at LPS points (N, 3)."""
        return self.sampler()(points_lps)

    def label_at_lps(self, points_lps) -> np.ndarray:
        """Label of the voxel nearest to each LPS point (0 outside the grid)."""
        kji, inside = self.sampler().nearest_index(points_lps)
        out = np.zeros(len(kji), np.uint8)
        out[inside] = self.labels[kji[inside, 0], kji[inside, 1], kji[inside, 2]]
        return out

    def component_points_lps(self, comp: dict) -> np.ndarray:
        """LPS centres of the voxels of one component (a dict of ``components``; none without ``component_labels``)."""
        if self.component_labels is None:
            return np.zeros((0, 3))
        box = comp["box"]
        kji = nonzero_kji(self.component_labels[box] == comp["label"]) + [s.start for s in box]
        return self.geometry.ijk_to_lps(kji[:, ::-1].astype(float))

    def component_of_voxels(self, mask: np.ndarray) -> dict | None:
        """The component (a dict of ``components``) holding most of the voxels of ``mask`` ([k, j, i] on this grid), or
        None when none of them lies in a component."""
        if self.component_labels is None or not np.any(mask):
            return None
        counts = np.bincount(self.component_labels[mask].ravel().astype(np.int64))
        counts[0] = 0
        if counts.max() == 0:
            return None
        label = int(np.argmax(counts))
        return next((c for c in self.components if c["label"] == label), None)

    def volumes_ml(self) -> dict:
        v = self.geometry.voxel_volume_mm3 / 1000.0
        # per slice: np.bincount widens its input to int64 (8 bytes per voxel of the whole grid at once)
        counts = sum((np.bincount(layer.ravel(), minlength=5) for layer in self.labels), np.zeros(5, np.int64))
        return {"bone": float(counts[1:4].sum() * v), "cortex": float(counts[CORTEX] * v),
                "cancellous": float(counts[CANCELLOUS] * v), "metal": float(counts[METAL] * v),
                "sacroiliac_joint": float(counts[JOINT] * v)}

    def metal_points_lps(self) -> np.ndarray:
        """LPS centres of the metal voxels (N, 3)."""
        kji = nonzero_kji(self.labels == METAL)
        return self.geometry.ijk_to_lps(kji[:, ::-1].astype(float))

    def surface_polydata_lps(self):
        """Closed triangulated surface of the bone envelope (+ crossable joints) in LPS mm (vtkPolyData, cached)."""
        if self._surface is None:
            from .surface import mask_surface_lps

            self._surface = mask_surface_lps(self.labels, self.geometry)
        return self._surface

    def pelvis_surface_polydata_lps(self):
        """As :meth:`surface_polydata_lps`, of the recognised bones only (sacrum, lumbar spine, hip bones, pelvic ring,
        femurs, their joints): for pictures, where other bones in the scan (forearms beside the pelvis) would hide the
        pelvis or shrink it in the frame. The whole surface when no bone is unrecognised or none is recognised."""
        if self._pelvis_surface is None:
            other = [c["label"] for c in self.components if c.get("kind") == "other"]
            if self.component_labels is None or not other or len(other) == len(self.components):
                self._pelvis_surface = self.surface_polydata_lps()
            else:
                from .surface import mask_surface_lps

                keep = (self.labels > 0) & ~np.isin(self.component_labels, other)
                self._pelvis_surface = mask_surface_lps(keep, self.geometry)
        return self._pelvis_surface


def _union_box(objects: list) -> tuple:
    """The smallest box (slices k, j, i) holding every box of ``objects`` (``ndimage.find_objects``' list)."""
    boxes = [b for b in objects if b is not None]
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3))


def _find_objects_within(labels: np.ndarray, within: tuple) -> list:
    """``ndimage.find_objects(labels)`` when every nonzero voxel lies within the box ``within``, read there only."""
    return [None if o is None else tuple(slice(s.start + w.start, s.stop + w.start) for s, w in zip(o, within))
            for o in ndimage.find_objects(labels[within])]


def _without_contrast(labels_cc: np.ndarray, hu: np.ndarray, cortex_threshold_hu: float, geometry: ImageGeometry):
    """(``labels_cc`` without the contrast-enhanced soft tissue (:mod:`bone.contrast`), the components left relabelled
    1.. in the same order; ``ndimage.find_objects`` of it; the [k, j, i] indices of the voxels left out)."""
    objects = ndimage.find_objects(labels_cc)
    drop = contrast_components(labels_cc, hu, cortex_threshold_hu, objects)
    removed = []
    if drop:  # the others keep their voxels, so their boxes
        n = int(labels_cc.max())
        removed.append(nonzero_kji(np.isin(labels_cc, list(drop))))
        lut = np.zeros(n + 1, labels_cc.dtype)
        keep = [lab for lab in range(1, n + 1) if lab not in drop]
        lut[keep] = np.arange(1, len(keep) + 1)
        labels_cc = lut[labels_cc]
        objects = [objects[lab - 1] for lab in keep]
    joined = contrast_pieces(labels_cc, hu, geometry.spacing[::-1], cortex_threshold_hu, objects)
    if joined is not None:
        labels_cc[joined] = 0
        removed.append(nonzero_kji(joined))
        objects = ndimage.find_objects(labels_cc)  # a bone's box may have shrunk
    return labels_cc, objects, np.concatenate(removed) if removed else np.zeros((0, 3), np.int64)


def build_bone_model(ct: CTVolume, params: BoneParameters | None = None, progress=None, with_surface: bool = True) -> BoneModel:
    """Build the bone model of a CT in HU (any direction matrix).  ``progress(fraction, message)`` is optional;
    ``with_surface``: its closed surface (``surface_polydata_lps``) is computed too, while the distance field is (False:
    on the first call).

    CTs coarser than 3.5 mm are refused; coarse axes are interpolated to a 1 mm working grid first (see
    :mod:`bone.ct_quality`), and the model's ``ct_quality`` says how far its results can be trusted."""
    with reusing_freed_memory():  # its many large temporaries reuse each other's memory (see heap)
        return _build_bone_model(ct, params, progress, with_surface)


def _build_bone_model(ct: CTVolume, params: BoneParameters | None, progress, with_surface: bool) -> BoneModel:
    """:func:`build_bone_model`'s body."""
    params = params or BoneParameters()
    params.validate()
    report = progress or (lambda f, m: None)
    quality = assess_ct_quality(ct.geometry, ct.source)
    original_geometry = ct.geometry
    ct = working_ct(ct)
    g = ct.geometry
    a = ct.array
    coarse_mm = max(original_geometry.spacing) if max(original_geometry.spacing) > max(g.spacing) + 1e-6 else 0.0
    threshold = params.coarse_bone_threshold_hu if coarse_mm > 0 else params.bone_threshold_hu
    report(0.0, "thresholding")
    # crop to the candidate bone + margin
    margin = [int(np.ceil(params.margin_mm / s)) for s in g.spacing]
    sl = bounding_box(a >= threshold, margin[::-1])
    if sl is None:
        raise PosteoInputError(ct.source, f"no bone found: no voxel at or above {threshold:.0f} HU")
    lo_kji, hi_kji = [s.start for s in sl], [s.stop for s in sl]
    crop_geo = g.cropped(lo_kji[::-1], hi_kji[::-1])
    hu = a[sl]
    candidate = hu >= threshold  # on the crop only: the whole grid's mask is not kept while the bones are built
    if coarse_mm > 0:  # joint spaces blurred above the threshold: bones split where they show as a valley
        valley = joint_valleys(hu, candidate, coarse_mm, crop_geo.spacing[::-1], params)
        labels_cc = readd_one_sided(candidate_components(candidate & ~valley, crop_geo, params.min_component_ml), valley, coarse_mm, crop_geo)
        del valley
        objects, contrast_kji = ndimage.find_objects(labels_cc), np.zeros((0, 3), np.int64)
    else:
        labels_cc = candidate_components(candidate, crop_geo, params.min_component_ml)
        labels_cc, objects, contrast_kji = _without_contrast(labels_cc, hu, params.cortex_threshold_hu, crop_geo)
    n_comp = int(labels_cc.max())
    if n_comp == 0:
        raise PosteoInputError(ct.source, f"no bone found: no connected region of at least {params.min_component_ml} mL above "
                                          f"{threshold:.0f} HU")
    report(0.1, f"closing and filling {n_comp} bones")
    radius = ball_radius_voxels(params.closing_radius_mm, crop_geo.spacing)
    env_labels = np.zeros(hu.shape, np.uint16)

    def fill(lab_box, cc=labels_cc):  # (deleted with the labels once every bone is filled)
        lab, box = lab_box
        touches = []
        for axis, s in enumerate(box):
            if s.start + lo_kji[axis] == 0:
                touches.append((axis, 0))
            if s.stop + lo_kji[axis] == a.shape[axis]:
                touches.append((axis, 1))
        sub = cc[box]
        own = sub == lab
        return fill_component(own, touches, radius, (sub != 0) & ~own, crop_geo.spacing[::-1], params.joint_max_gap_mm)

    # the bones are filled two at a time (numpy, SciPy and SimpleITK release the GIL), written in label order
    present = [(lab, box) for lab, box in enumerate(objects, start=1) if box is not None]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (lab, box), filled in zip(present, pool.map(fill, present)):
            sub = env_labels[box]
            filled &= sub == 0
            np.copyto(sub, lab, where=filled)
            report(0.1 + 0.4 * lab / n_comp, f"bone {lab}/{n_comp}")
    del fill, labels_cc, candidate
    # the outer voxel layer belongs to bone only where it is dense: puts the surface at the cortex edge's
    # mid-level instead of at the low candidate threshold (partial volume)
    place_surface(env_labels, hu, params.cortex_threshold_hu, coarse_mm, crop_geo)
    report(0.52, "femoral heads")
    # the bones' boxes as they stand (found again only when a split changes the labels): ``objects`` (the boxes
    # the components' summaries are read in) takes them after a split, else it keeps the candidates' boxes
    # every later step writes within the candidates' boxes (fills, splits, cavities and craters stay in a bone's box)
    within = _union_box(objects)
    current = _find_objects_within(env_labels, within)
    if split_merged_femurs(env_labels, hu, crop_geo, current):  # femurs joined to the pelvis across the hip joint
        objects = current = _find_objects_within(env_labels, within)
    report(0.53, "sacroiliac joints")
    reach = joint_reach_voxels(max(coarse_mm, min(crop_geo.spacing)), crop_geo.spacing[::-1], params)
    ring = split_pelvic_ring(env_labels, hu, crop_geo, reach, threshold, midline_x_of_labels(env_labels, crop_geo), current)
    if ring is not None:  # a pelvic ring split at its sacroiliac joints
        objects = current = _find_objects_within(env_labels, within)
    report(0.54, "cavities enclosed by bone")
    if ring is None:
        fill_enclosed_cavities(env_labels, hu, crop_geo.spacing[::-1], params.cortex_threshold_hu, objects=current)
    else:  # the sacrum's joint surface (kept apart from the labels) is its bone, and never filled
        fill_enclosed_cavities(env_labels, hu, crop_geo.spacing[::-1], params.cortex_threshold_hu,
                               {ring["sacrum"]: ring["joint"]}, ring["joint"], current)
    report(0.545, "craters of lesions through the cortex")
    craters = []
    fill_craters(env_labels, hu, crop_geo.spacing[::-1], threshold, params.closing_radius_mm + max(crop_geo.spacing),
                 None if ring is None else ring["joint"], craters)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two bones at a time (numpy releases the GIL), in label order
        present = [(lab, box) for lab, box in enumerate(objects, start=1) if box is not None]
        comps = [c for c in pool.map(lambda lb: component_summary(env_labels, lb[0], lb[1], crop_geo), present) if c is not None]
    report(0.55, "joints")
    joint = crossable_joints(env_labels, comps, crop_geo, params)
    if ring is not None:
        joint |= ring["joint"]
        for c in comps:
            if c["label"] == ring["sacrum"]:
                c["name"] = "sacrum"
            elif c["label"] in ring["hip bones"]:
                c["joins_sacrum"] = True
    x_mid = 0.5 * (min(c["bounds_lps"][0][0] for c in comps) + max(c["bounds_lps"][1][0] for c in comps))
    split_lumbar_component(env_labels, hu, crop_geo, comps, threshold, x_mid)  # the lumbar vertebra above the sacrum
    name_components(comps, x_mid, env_labels, crop_geo)
    labels = label_map(env_labels, hu, joint, params.cortex_threshold_hu, params.metal_threshold_hu)
    del joint
    report(0.65, "signed distance field")
    model = BoneModel(crop_geo, labels, None, params, original_geometry, comps, ct.source, ct.sha256, quality, env_labels)
    model.contrast_ml = len(contrast_kji) * crop_geo.voxel_volume_mm3 / 1000.0
    model.filled_craters = [{"volume_ml": c["voxels"] * crop_geo.voxel_volume_mm3 / 1000.0,
                             "centre_lps": crop_geo.ijk_to_lps(np.asarray(c["centre_kji"], float)[::-1][None])[0].tolist(),
                             "bone_label": c["label"]} for c in craters]
    # the surface in a worker thread (VTK releases the GIL) while the sacral tunnels, which read neither the surface nor
    # the field, are sought and the field is computed: in a second worker thread with SimpleITK (which releases the
    # GIL), after the tunnels with the ``edt`` package (which holds it)
    sacral_assessed = quality["level"] == "full" and sacral_tunnels_resolved(original_geometry.spacing)
    with ThreadPoolExecutor(max_workers=2) as pool:
        if with_surface:
            pool.submit(model.surface_polydata_lps)
        field_job = None if fast_transform_available() else pool.submit(signed_distance_mm, labels, crop_geo)
        sacral = find_sacral_nogo(model, hu) if sacral_assessed else []
        model.sdf = signed_distance_mm(labels, crop_geo) if field_job is None else field_job.result()
        if quality["level"] == "full":
            heads = recognised_heads(model)
            enhanced = contrast_structure(contrast_kji, crop_geo)
            model.nogo = sacral + find_hip_joints(model, heads) + find_sciatic_notches(model, heads) + ([enhanced] if enhanced else [])
    report(1.0, "bone model ready")
    return model
