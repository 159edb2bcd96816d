"""Whole-screw clearance check against the bone model's signed distance field (LPS mm).

Definitions (``s`` = distance from the entry along the axis, samples at most ``step_mm`` apart):

* clearance(s) = -sdf(axis point) - radius: how far the screw's surface stays inside the bone envelope
  (crossable sacroiliac joints count as bone); negative = the screw's cylinder leaves the bone there;
* bone entry: the first sample whose axis point lies in bone (sdf < 0); the path before it is soft tissue (the
  screw's head may sit proud of the bone): it is neither breach nor part of the minimum;
* entry zone: from the bone entry for as long as the clearance keeps rising (the screw moving away from the near
  cortex it just crossed), but while the clearance is still negative for at most ``entry_zone_max_mm`` beyond the
  bone entry (a screw grazing a cortex never gets that far); it is left out of the minimum clearance and the breach
  length.  A breach needs the clearance to fall again after it, so nothing the zone leaves out can hide one.
  ``entry_zone_mm`` is the axis length left out (soft tissue + near cortex);
* min clearance (and its ``s``), breach length = axis length outside the entry zone with clearance < 0
  (samples weighted by their spacing), bone fraction = fraction of the samples with sdf < 0;
* grade: "excellent" (min >= margin), "acceptable" (0 <= min < margin), "breach" (min < 0);
* perforation: how far the screw's surface lies outside the bone, ``max(0, -min clearance)`` mm, and its grade as
  in the iliosacral-screw literature (Smith et al. 2006; Gras et al.): 0 none, 1 < 2 mm, 2 from 2 to < 4 mm,
  3 >= 4 mm (``PERFORATION_GRADE_LIMITS_MM``);
* tip protrusion = max(0, sdf(tip)), how far the tip lies outside the bone;
  tip in joint = the tip lies in a crossable joint (label 4), or outside bone with bone again ahead of it
  along the axis within ``joint_max_gap_mm`` (a joint space such as the hip joint, between two bones);
* joints crossed = number of separate runs of sacroiliac-joint samples (label 4) along the axis;
* no-go structures (``bone.nogo``: the sacral canal and foramina, the greater sciatic notches, the hip joints'
  cartilage spaces, on a contrast-enhanced CT the opacified vessels and organs beside the bone): the clearance
  to each; a screw entering one is a breach whatever its bone clearance (``neural`` names the nerve tunnels it
  enters, ``articular`` the joints, ``enhanced`` the vessels and organs); existing metal (an old implant, ``EXISTING_IMPLANT``) is one too: clearance from
  the screw's cylinder to the metal voxel centres less half a voxel (``metal_clearance_mm``, ``implant``);
* bicortical screws (``Screw.bicortical``: trans-iliac-transsacral, LC-II into the far table): the tip is meant to
  bite the far cortex. When the axis leaves the bone at the tip by at most ``BICORTICAL_PROTRUSION_MM``, the exit
  zone (mirror of the entry zone, from the tip back over the protrusion and the far cortex) is left out like the
  entry zone (``exit_zone_mm``); a longer protrusion is graded as for any screw. ``overshoot_to_bone_mm``: how far a
  guide wire pushed on along the axis travels before the next bone (None: none within ``OVERSHOOT_REACH_MM``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..bone.model import JOINT, BoneModel
from ..bone.nogo import ARTICULAR, ENHANCED
from ..errors import PosteoInputError
from .pairs import metal_clearance, pairwise_gaps
from .screw import Screw

GRADES = ("excellent", "acceptable", "breach")
PERFORATION_GRADE_LIMITS_MM = (2.0, 4.0)  # grade 1 below the first, 2 below the second, 3 beyond
BICORTICAL_PROTRUSION_MM = 5.0
OVERSHOOT_REACH_MM = 100.0
EXISTING_IMPLANT = "existing implant (metal)"


@dataclass
class ScrewCheck:
    """Result of :func:`check_screw` (mm; ``profile_s_mm``/``profile_clearance_mm`` are the sampled profile)."""

    name: str
    min_clearance_mm: float
    min_clearance_at_mm: float
    breach_length_mm: float
    bone_fraction: float
    grade: str
    entry_zone_mm: float
    tip_protrusion_mm: float
    tip_in_joint: bool
    joints_crossed: int
    profile_s_mm: np.ndarray = field(repr=False)
    profile_clearance_mm: np.ndarray = field(repr=False)
    margin_mm: float = 1.0
    metal_clearance_mm: float | None = None
    bicortical: bool = False
    exit_zone_mm: float = 0.0
    overshoot_to_bone_mm: float | None = None
    nogo_clearance_mm: dict = field(default_factory=dict)  # structure name -> clearance (mm); < 0: the screw enters it
    articular_structures: tuple = ()  # names of the no-go structures that are joints (hip joint), not nerves
    implant_structures: tuple = ()  # names of the no-go structures that are existing metal (an old implant)
    enhanced_structures: tuple = ()  # names of the no-go structures that are opacified vessels or organs (bone.contrast)

    @property
    def neural(self) -> list:
        """Names of the neural no-go structures (sacral canal, foramina) the screw enters."""
        other = (*self.articular_structures, *self.implant_structures, *self.enhanced_structures)
        return [name for name, c in self.nogo_clearance_mm.items() if c < 0 and name not in other]

    @property
    def articular(self) -> list:
        """Names of the joint spaces (hip joint cartilage) the screw enters: an intra-articular screw."""
        return [name for name, c in self.nogo_clearance_mm.items() if c < 0 and name in self.articular_structures]

    @property
    def enhanced(self) -> list:
        """Names of the contrast-enhanced vessels or organs the screw enters."""
        return [name for name, c in self.nogo_clearance_mm.items() if c < 0 and name in self.enhanced_structures]

    @property
    def implant(self) -> list:
        """Names of the existing implants (metal) the screw runs into."""
        return [name for name, c in self.nogo_clearance_mm.items() if c < 0 and name in self.implant_structures]

    @property
    def ok(self) -> bool:
        return self.grade != "breach"

    @property
    def perforation_mm(self) -> float:
        return max(0.0, -float(self.min_clearance_mm))

    @property
    def perforation_grade(self) -> int:
        return perforation_grade(self.min_clearance_mm)

    def to_dict(self, profile: bool = True) -> dict:
        out = {"name": self.name, "min_clearance_mm": float(self.min_clearance_mm),
               "min_clearance_at_mm": float(self.min_clearance_at_mm), "breach_length_mm": float(self.breach_length_mm),
               "bone_fraction": float(self.bone_fraction), "grade": self.grade, "perforation_mm": self.perforation_mm,
               "perforation_grade": self.perforation_grade, "entry_zone_mm": float(self.entry_zone_mm),
               "tip_protrusion_mm": float(self.tip_protrusion_mm), "tip_in_joint": bool(self.tip_in_joint),
               "joints_crossed": int(self.joints_crossed), "margin_mm": float(self.margin_mm),
               "bicortical": bool(self.bicortical), "exit_zone_mm": float(self.exit_zone_mm),
               "overshoot_to_bone_mm": None if self.overshoot_to_bone_mm is None else float(self.overshoot_to_bone_mm),
               "nogo": {k: round(float(v), 2) for k, v in self.nogo_clearance_mm.items()}, "neural": self.neural,
               "articular": self.articular, "implant": self.implant, "enhanced": self.enhanced,
               "metal_clearance_mm": None if self.metal_clearance_mm is None or not np.isfinite(self.metal_clearance_mm)
               else float(self.metal_clearance_mm)}
        if profile:
            out["profile"] = {"s_mm": np.round(self.profile_s_mm, 3).tolist(),
                              "clearance_mm": np.round(self.profile_clearance_mm, 3).tolist()}
        return out


def perforation_grade(min_clearance_mm: float) -> int:
    """0 (the screw stays in bone), 1 (< 2 mm out), 2 (2 to < 4 mm out), 3 (>= 4 mm out); see module doc."""
    out = -float(min_clearance_mm)
    if out <= 0:
        return 0
    return 1 + sum(out >= limit for limit in PERFORATION_GRADE_LIMITS_MM)


def grade_of(min_clearance_mm: float, margin_mm: float) -> str:
    if min_clearance_mm >= margin_mm:
        return "excellent"
    if min_clearance_mm >= 0.0:
        return "acceptable"
    return "breach"


RISE_TOL_MM = 1e-4  # a step smaller than this is no longer "rising"


def entry_zone_start(s: np.ndarray, clearance: np.ndarray, radius_mm: float | None, entry_zone_max_mm: float = 10.0) -> np.ndarray:
    """Index of the first sample that counts (see module doc) for each row of ``clearance`` (n samples, or
    (m, n) for m candidate screws), at axis positions ``s`` (mm).  ``radius_mm=None``: the axis starts in bone."""
    c = np.atleast_2d(np.asarray(clearance, float))
    m, n = c.shape
    inside = c > (-np.inf if radius_mm is None else -float(radius_mm))
    has = inside.any(axis=1)
    b = np.where(has, np.argmax(inside, axis=1), n)
    if n < 2:
        return np.zeros(m, int) if np.ndim(clearance) > 1 else 0
    stops = (np.diff(c, axis=1) <= RISE_TOL_MM) & (np.arange(n - 1)[None, :] >= b[:, None])
    end = np.where(stops.any(axis=1), np.argmax(stops, axis=1), n - 1)
    bb = np.minimum(b, n - 1)
    cap = np.minimum(np.searchsorted(s, s[bb] + float(entry_zone_max_mm), side="right"), n - 1)
    capped = c[np.arange(m), cap] < 0
    end = np.where(capped & (end > cap), cap, end)
    start = np.where(has, end, 0)
    return start if np.ndim(clearance) > 1 else int(start[0])


def summarize_profile(s: np.ndarray, clearance: np.ndarray, entry_zone_max_mm: float = 10.0,
                      radius_mm: float | None = None) -> tuple[float, float, float, float]:
    """(min clearance, its s, breach length, entry zone length) of a clearance profile (see module doc)."""
    start = entry_zone_start(s, clearance, radius_mm, entry_zone_max_mm)
    c = clearance[start:]
    i = int(np.argmin(c))
    weights = _sample_lengths(s)[start:]
    breach = float(weights[c < 0].sum())
    return float(c[i]), float(s[start + i]), breach, float(s[start])


def _sample_lengths(s: np.ndarray) -> np.ndarray:
    """Axis length each sample stands for (half the gaps to its neighbours)."""
    w = np.empty(len(s))
    d = np.diff(s)
    w[0] = 0.5 * d[0]
    w[-1] = 0.5 * d[-1]
    w[1:-1] = 0.5 * (d[:-1] + d[1:])
    return w


def validate_screw(screw: Screw, bone: BoneModel, catalog=None):
    """Raise :class:`PosteoInputError` for a screw that cannot be checked (bad numbers, unknown implant)."""
    e, t = np.asarray(screw.entry_lps, float), np.asarray(screw.tip_lps, float)
    if e.shape != (3,) or t.shape != (3,) or not (np.isfinite(e).all() and np.isfinite(t).all()):
        raise PosteoInputError(f"screw '{screw.name}'", "entry and tip must be 3 finite LPS coordinates each")
    if not float(np.linalg.norm(t - e)) > 1e-6:
        raise PosteoInputError(f"screw '{screw.name}'", "entry point and tip are the same point")
    d = float(screw.diameter_mm)
    if not (np.isfinite(d) and d > 0):
        raise PosteoInputError(f"screw '{screw.name}'", f"diameter must be > 0 mm, got {screw.diameter_mm}")
    if screw.implant_id is not None:
        from .implants import default_catalog

        cat = catalog if catalog is not None else default_catalog()
        if screw.implant_id not in cat:
            cat.get(screw.implant_id)  # raises, naming the closest ids


def check_screw(screw: Screw, bone: BoneModel, margin_mm: float = 1.0, step_mm: float = 0.5,
                entry_zone_max_mm: float = 10.0, catalog=None) -> ScrewCheck:
    """Clearance check of one screw against the bone model (see module doc).  Raises on bad input and on a
    screw lying entirely outside the CT image."""
    validate_screw(screw, bone, catalog)
    if not (np.isfinite(step_mm) and step_mm > 0):
        raise PosteoInputError(f"step {step_mm}", "must be > 0 mm")
    s, pts = screw.axis_points_lps(min(step_mm, 0.5))
    samp = bone.sampler()
    ijk = samp.index_of(pts)
    sdf = samp.sample_index(ijk)
    if _outside_grid(ijk, samp) and not bone.ct_geometry.contains_lps(pts).any():
        raise PosteoInputError(f"screw '{screw.name}'", "lies entirely outside the CT image")
    clearance = -sdf - screw.radius_mm
    keep, exit_zone, overshoot = len(s), 0.0, None
    if screw.bicortical:
        keep = _far_cortex_keep(s, clearance, sdf, screw.radius_mm, entry_zone_max_mm)
        exit_zone = float(s[-1] - s[keep - 1])
        overshoot = _overshoot_to_bone(screw, bone)
    cmin, at, breach, zone = summarize_profile(s[:keep], clearance[:keep], entry_zone_max_mm, screw.radius_mm)
    labels = _labels_from_index(bone, ijk)
    joint = labels == JOINT
    runs = int(joint[0]) + int(np.count_nonzero(joint[1:] & ~joint[:-1]))
    tip_sdf = float(sdf[-1])
    tip_in_joint = bool(joint[-1]) or (tip_sdf > 0 and _bone_ahead(screw, bone, bone.parameters.joint_max_gap_mm))
    structures = bone.nogo_structures()
    nogo = {n.name: n.clearance_mm(pts, screw.radius_mm) for n in structures}
    metal = None
    tree = metal_tree(bone)
    if tree.n:  # an old implant: its voxel centres less half a voxel (its surface lies between centres)
        metal = metal_clearance(screw, tree)[0] - 0.5 * float(min(bone.geometry.spacing))
        nogo[EXISTING_IMPLANT] = metal
    grade = "breach" if any(c < 0 for c in nogo.values()) else grade_of(cmin, margin_mm)  # neural, intra-articular, metal, vessel
    return ScrewCheck(screw.name, cmin, at, breach, float(np.mean(sdf < 0)), grade, zone,
                      max(0.0, tip_sdf), tip_in_joint, runs, s, clearance, float(margin_mm), metal, screw.bicortical, exit_zone, overshoot,
                      nogo, tuple(n.name for n in structures if n.kind == ARTICULAR), (EXISTING_IMPLANT,) if metal is not None else (),
                      tuple(n.name for n in structures if n.kind == ENHANCED))


def _far_cortex_keep(s, clearance, sdf, radius_mm: float, zone_max_mm: float) -> int:
    """Number of samples (from the entry) that count for a bicortical screw: all of them when the tip protrudes
    more than BICORTICAL_PROTRUSION_MM, else up to the exit zone (the entry-zone rule run from the tip)."""
    inside = np.flatnonzero(sdf < 0)
    if len(inside) == 0:
        return len(s)
    protrusion = float(s[-1] - s[inside[-1]])
    if protrusion > BICORTICAL_PROTRUSION_MM:
        return len(s)
    k = int(entry_zone_start(s[-1] - s[::-1], clearance[::-1], radius_mm, zone_max_mm))
    return max(2, len(s) - k)


def _overshoot_to_bone(screw: Screw, bone: BoneModel) -> float | None:
    """Distance (mm) from the tip along the axis to the next bone after the bone the tip is in or just left."""
    t = np.arange(0.5, OVERSHOOT_REACH_MM + 1e-9, 0.5)
    inside = bone.signed_distance_lps(screw.tip_lps + t[:, None] * screw.direction_lps) < 0
    out = np.flatnonzero(~inside)
    if len(out) == 0:
        return None
    again = np.flatnonzero(inside[out[0]:])
    return float(t[out[0] + again[0]]) if len(again) else None


def _outside_grid(ijk: np.ndarray, samp) -> bool:
    hi = samp._shape - 1
    return not bool(np.all((ijk >= 0) & (ijk <= hi)))


def _labels_from_index(bone: BoneModel, ijk: np.ndarray) -> np.ndarray:
    r = np.rint(ijk).astype(np.int64)
    shape = np.array(bone.labels.shape[::-1])
    inside = np.all((r >= 0) & (r < shape), axis=1)
    out = np.zeros(len(r), np.uint8)
    q = r[inside]
    out[inside] = bone.labels[q[:, 2], q[:, 1], q[:, 0]]
    return out


def _bone_ahead(screw: Screw, bone: BoneModel, reach_mm: float) -> bool:
    """True when the axis continued beyond the tip re-enters bone within ``reach_mm``."""
    t = np.arange(0.5, reach_mm + 1e-9, 0.5)
    if t.size == 0:
        return False
    return bool((bone.signed_distance_lps(screw.tip_lps + t[:, None] * screw.direction_lps) < 0).any())


_METAL_TREES: dict[int, cKDTree] = {}


def metal_tree(bone: BoneModel) -> cKDTree:
    """cKDTree of the bone model's metal voxel centres (LPS), built once per bone model."""
    key = id(bone)
    tree = _METAL_TREES.get(key)
    if tree is None:
        tree = cKDTree(bone.metal_points_lps().reshape(-1, 3))
        _METAL_TREES[key] = tree
        weakref.finalize(bone, _METAL_TREES.pop, key, None)
    return tree


def check_screws(screws, bone: BoneModel, margin_mm: float = 1.0, metal: bool = True, catalog=None, step_mm: float = 0.5):
    """Check several screws: ``(checks, pairs)`` with per-screw metal clearance (mm, ``None`` without metal)
    and the gap of every screw pair (:func:`screw_pairs.pairwise_gaps`)."""
    screws = list(screws)
    names = [s.name for s in screws]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise PosteoInputError("plan", f"screw names must be unique; repeated: {', '.join(sorted(dup))}")
    checks = [check_screw(s, bone, margin_mm, step_mm, catalog=catalog) for s in screws]
    if not metal:
        for c in checks:
            c.metal_clearance_mm = None
    return checks, pairwise_gaps(screws)
