"""Corridors: each named pathway searched on a bone model, with the largest catalog screw that fits (LPS mm).

For each pathway (corridors.pathways) and side, the widest line (corridors.search), or the centre of the flat optimum
around it (corridors.centre), is found on the bone model's signed distance field, also kept at a distance from the
no-go structures found in the CT (sacral canal and foramina, greater sciatic notches, hip joints) and from existing
metal (an old implant). The corridor's width is twice its narrowest radius. The pattern search and the width use
the distance to the nearest vertex of the bone's surface mesh
(vertices under a voxel apart: within a few hundredths of a millimetre of the distance to the surface at corridor
depths), because the distance field, interpolated between voxel centres, reads up to about a voxel low on the ridge
along a corridor's axis, where the widest line lies. The screw proposed in it is the largest catalog diameter leaving
``margin_mm`` all round, at the longest catalog length between the bone entry and the tip keeping it (on the same
distance to the surface mesh as the width: on the field a 0.01 mm dip below the margin cut a Visible Human S1 screw
from 75 to 45 mm), along the corridor's axis;
it is then checked like any planned screw (screws.clearance.check_screw), which gives the grade and minimum clearance
reported. When no catalog screw fits with that margin, or the checked screw breaches, the corridor is reported as
"no safe corridor" with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from vtk.util.numpy_support import vtk_to_numpy

from ..bone.labels import METAL
from ..bone.nogo_distance import NOGO_REACH_MM, NogoDistance
from ..errors import PosteoInputError
from ..screws import roles
from ..screws.clearance import check_screw, entry_zone_start
from ..screws.implants import default_catalog
from ..screws.screw import Screw
from .centre import find_corridor_line
from .landmarks import find_landmarks
from .pathways import PATHWAYS, SUBCHONDRAL_MM, Pathway, search_region
from .triad import find_triad

SIDES = ("left", "right")


@dataclass
class Corridor:
    name: str
    side: str | None
    role: str
    found: bool
    reason: str = ""
    entry_lps: np.ndarray | None = None
    tip_lps: np.ndarray | None = None  # the screw's tip (catalog length from the entry)
    corridor_tip_lps: np.ndarray | None = None  # where the pathway ends (the tip rule)
    width_mm: float | None = None  # twice the narrowest radius along the pathway
    narrowest_lps: np.ndarray | None = None
    diameter_mm: float | None = None
    length_mm: float | None = None
    implant_id: str | None = None
    min_clearance_mm: float | None = None
    grade: str | None = None
    bicortical: bool = False
    guidance: dict | None = field(default=None, repr=False)
    triad: object | None = field(default=None, repr=False)  # corridors.triad.Triad of a femoral-neck corridor

    @property
    def label(self) -> str:
        return f"{self.side} {self.name}" if self.side else self.name

    def screw(self) -> Screw:
        """The proposed screw (raises PosteoInputError when there is no safe corridor)."""
        if not self.found:
            raise PosteoInputError(f"corridor '{self.label}'", f"no safe corridor: {self.reason}")
        return Screw(self.label, self.entry_lps, self.tip_lps, self.diameter_mm, self.implant_id, role=self.role,
                     bicortical=self.bicortical)

    def to_dict(self) -> dict:
        def pt(v):
            return None if v is None else [round(float(x), 2) for x in v]

        def num(v):
            return None if v is None else round(float(v), 2)

        return {"name": self.name, "side": self.side, "role": self.role, "found": self.found, "reason": self.reason,
                "entry_lps": pt(self.entry_lps), "tip_lps": pt(self.tip_lps), "corridor_tip_lps": pt(self.corridor_tip_lps),
                "width_mm": num(self.width_mm), "narrowest_lps": pt(self.narrowest_lps), "diameter_mm": num(self.diameter_mm),
                "length_mm": num(self.length_mm), "implant_id": self.implant_id, "min_clearance_mm": num(self.min_clearance_mm),
                "grade": self.grade, "bicortical": self.bicortical, "guidance": self.guidance,
                "triad": None if self.triad is None else self.triad.to_dict()}


def nogo_distance_fn(structures):
    """Distance (mm) from points to the nearest no-go structure's wall (inf beyond ``NOGO_REACH_MM``), with a cheap
    ``lower_bound`` (bone.nogo_distance), or None."""
    return NogoDistance(structures) if structures else None


def metal_distance_fn(bone):
    """distance(points) -> mm from existing metal (an old implant, which no new screw may cross), from the metal's voxel
    centres less half a voxel: an exact distance transform on the bone grid around the metal, interpolated, infinite
    beyond ``NOGO_REACH_MM``; None without metal."""
    from scipy.ndimage import distance_transform_edt

    from ..geometry.sampling import VolumeSampler

    metal = bone.labels == METAL
    if not metal.any():
        return None
    spacing_kji = np.asarray(bone.geometry.spacing, float)[::-1]
    pad = np.ceil(NOGO_REACH_MM / spacing_kji).astype(int) + 1
    where = np.argwhere(metal)
    lo = np.maximum(where.min(axis=0) - pad, 0)
    hi = np.minimum(where.max(axis=0) + pad + 1, metal.shape)
    crop = metal[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    distance = distance_transform_edt(~crop, sampling=spacing_kji) - 0.5 * float(spacing_kji.min())
    return VolumeSampler(distance.astype(np.float32), bone.geometry.cropped(lo[::-1], hi[::-1]), outside_value=np.inf)


def nearest_of(*fns):
    """The pointwise minimum of distance functions (None ones skipped), with a ``lower_bound`` (the minimum of the
    parts' lower bounds, a part without one counting its own value); None when all are None."""
    fns = [f for f in fns if f is not None]
    if not fns:
        return None
    if len(fns) == 1:
        return fns[0]

    def fn(points):
        return np.minimum.reduce([f(points) for f in fns])

    fn.lower_bound = lambda points: np.minimum.reduce([getattr(f, "lower_bound", f)(points) for f in fns])
    return fn


def _longest_excellent_mm(line, depth_fn, diameter_mm: float, margin_mm: float, bicortical: bool) -> float:
    """How far from the entry a screw of this diameter along the line keeps ``margin_mm`` of bone all round (after
    the entry zone), up to the pathway's tip, on ``depth_fn`` (the depth the corridor's width was measured on); a
    bicortical screw goes to the tip (into the far cortex) regardless."""
    if bicortical:
        return line.length_mm
    s = np.arange(0.0, line.length_mm + 1e-9, 0.5)
    pts = line.entry_lps + s[:, None] * line.direction_lps
    clearance = depth_fn(pts) - diameter_mm / 2.0
    start = entry_zone_start(s, clearance, diameter_mm / 2.0)
    short = np.flatnonzero(clearance[start:] < margin_mm)
    return float(s[start + short[0]] - 0.5) if len(short) else line.length_mm


def _fit_screw(pathway: Pathway, side, line, bone, catalog, margin_mm: float, depth_fn):
    """(Screw, check) of the largest catalog screw along the line that is not graded breach, at the longest catalog
    length keeping ``margin_mm`` all round on ``depth_fn``, or (None, reason)."""
    label = f"{side} {pathway.name}" if side else pathway.name
    radius = line.radius_mm
    diameters = sorted((d for d in catalog.diameters() if radius - d / 2.0 >= margin_mm), reverse=True)
    if not diameters:
        at = line.point_lps + line.narrowest_s * line.direction_lps
        return None, (f"narrowest width {2 * radius:.1f} mm at ({at[0]:.0f}, {at[1]:.0f}, {at[2]:.0f}) LPS: no catalog "
                      f"screw leaves {margin_mm:g} mm all round (smallest {min(catalog.diameters()):g} mm needs "
                      f"{min(catalog.diameters()) + 2 * margin_mm:.1f} mm)")
    reason = ""
    for d in diameters:
        thread = catalog.default_for(d).thread_code
        usable = _longest_excellent_mm(line, depth_fn, d, margin_mm, pathway.bicortical)
        try:
            imp = catalog.snap_length(d, thread, usable)
        except PosteoInputError:
            reason = f"{usable:.0f} mm of the corridor keeps {margin_mm:g} mm around a {d:g} mm screw: shorter than the shortest"
            continue
        screw = Screw(label, line.entry_lps, line.entry_lps + imp.length_mm * line.direction_lps, d, imp.id,
                      imp.thread_length_mm, role=pathway.role, bicortical=pathway.bicortical)
        check = check_screw(screw, bone, margin_mm, catalog=catalog)
        if check.grade != "breach":
            return (screw, check), ""
        what = ", ".join(check.neural + check.articular + check.implant + check.enhanced) or f"{check.min_clearance_mm:.1f} mm"
        reason = f"the {d:g} mm screw along it is graded breach ({what})"
    return None, reason


def surface_depth_fn(bone):
    """depth(points) -> mm: the distance to the nearest vertex of the bone's surface mesh, positive inside (where the
    signed distance field is negative); see module doc."""
    tree = cKDTree(vtk_to_numpy(bone.surface_polydata_lps().GetPoints().GetData()).astype(float))

    def depth(points):
        d = tree.query(points, workers=-1)[0]
        return np.where(bone.signed_distance_lps(points) < 0, d, -d)

    return depth


def find_corridors(bone, ct=None, sides=SIDES, catalog=None, margin_mm: float = 1.0, names=None,
                   progress=None) -> list[Corridor]:
    """All named corridors of the bone model (``names``: pathway names to search, default all; ``sides``: the
    sides of the sided pathways; ``ct``: the CT, for the skin entry and guidance; ``progress(fraction, text)``)."""
    catalog = catalog if catalog is not None else default_catalog()
    lm = find_landmarks(bone)
    metal = metal_distance_fn(bone)
    nogo = nearest_of(nogo_distance_fn(bone.nogo_structures()), metal)  # old implants are no-go too
    fine = surface_depth_fn(bone)

    def depth(points):
        return -bone.signed_distance_lps(points)

    jobs = [(p, s) for p in PATHWAYS if names is None or p.name in names for s in (sides if p.sided else (None,))]
    out = []
    for k, (pathway, side) in enumerate(jobs):
        if progress is not None:
            progress(k / max(len(jobs), 1), f"{side + ' ' if side else ''}{pathway.name}")
        out.append(_corridor(pathway, side, lm, bone, ct, catalog, margin_mm, depth, nogo, fine, metal))
    if progress is not None:
        progress(1.0, "corridors done")
    return out


def _corridor(pathway, side, lm, bone, ct, catalog, margin_mm, depth, nogo, fine, metal) -> Corridor:
    base = Corridor(pathway.name, side, pathway.role, False, bicortical=pathway.bicortical)
    region, why = search_region(pathway, lm, side)
    if region is None:
        base.reason = why
        return base
    line = find_corridor_line(region, depth, nogo, fine_depth_fn=fine)
    if line is None:
        base.reason = "no straight path stays in bone through the expected region"
        return base
    base.width_mm, base.narrowest_lps = 2.0 * line.radius_mm, line.point_lps + line.narrowest_s * line.direction_lps
    base.entry_lps, base.corridor_tip_lps = line.entry_lps, line.tip_lps
    fitted, reason = _fit_screw(pathway, side, line, bone, catalog, margin_mm, fine)
    if fitted is None:
        base.reason = reason
        return base
    screw, check = fitted
    if pathway.role == roles.FEMORAL_NECK:
        head = lm.sides[side]
        args = (side, line.entry_lps, line.tip_lps, head.head_centre_lps, head.head_radius_mm, SUBCHONDRAL_MM, bone, catalog,
                margin_mm)
        base.triad = find_triad(*args, nearest_of(depth, metal))
        if not base.triad.found and metal is not None:
            without = find_triad(*args, depth, checked=False)  # the room the implant takes
            if without.found:
                base.triad.reason = (f"an existing implant (metal) in the neck leaves no room for it (without the implant: "
                                     f"3 x {without.screws[0].diameter_mm:g} mm, {without.spread_mm:.1f} mm apart)")
    base.found = True
    base.tip_lps, base.diameter_mm, base.length_mm, base.implant_id = screw.tip_lps, screw.diameter_mm, screw.length_mm, screw.implant_id
    base.min_clearance_mm, base.grade = check.min_clearance_mm, check.grade
    if ct is not None:
        from ..screws.guidance import compute_guidance

        try:
            base.guidance = compute_guidance(screw, ct).to_dict()
        except PosteoInputError as exc:
            base.guidance = {"error": str(exc)}
    return base


def plan_screws(corridors) -> list:
    """The screws a plan starts from: each found corridor's proposed screw, except that a femoral neck whose triad was
    found gets the triad's three screws (the usual fixation of a femoral neck) instead of its single central one."""
    out = []
    for c in corridors:
        if c.triad is not None and c.triad.found:
            out += list(c.triad.screws)
        elif c.found:
            out.append(c.screw())
    return out
