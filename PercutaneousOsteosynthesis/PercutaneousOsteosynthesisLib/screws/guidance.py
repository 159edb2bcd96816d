"""CT / cone-beam guidance parameters of a planned screw (patient axes, LPS mm).

Conventions (all relative to the patient's LPS axes, whatever the CT's direction matrix; ``u`` is the
unit screw direction from entry to tip, ``u = (ux, uy, uz)``, x = Left, y = Posterior, z = Superior):

* skin entry: the screw line continued backwards from the entry (away from the tip) is sampled every
  ``step_mm``; the skin is the last body-to-air transition (value falls to ``<= body_threshold_hu``) before
  the image border, refined linearly between the two samples;
* patient position (``PATIENT_POSITIONS``): supine, prone, lateral-left (left side down) or lateral-right; it
  fixes the table's horizontal transverse axis ``a`` (the gantry's tilt axis: L-R when supine or prone, A-P on
  the side) and the up direction ``v`` (anterior when supine, posterior when prone, the upper flank on the side);
* scan plane: the plane through the screw that contains ``a`` (a tilted axial plane); ``w`` is its direction
  perpendicular to ``a``, oriented down toward the table.  Both depend on the screw's line only, not on which
  end is the entry;
* gantry tilt: angle of the scan plane from the axial plane, ``atan2(w.z, -w.v)``: + when the plane's lower
  (table) side is cranial of its upper side, i.e. the gantry top tilted toward the feet.  Mirror-image screws
  (reflected through an axial plane) get opposite tilts.  ``double_oblique`` when ``|tilt| > max_gantry_tilt_deg``;
* in-plane angle: angle of the screw from the downward direction ``w`` within the scan plane,
  ``atan2(u.a, u.w)``: 0 = straight down, +90/-90 = horizontal toward +a/-a (the patient's left when supine or
  prone, posterior on the side);
* table position: where the scan plane through the skin entry crosses the isocentre line (the line along the
  table through the centre of the CT image's axial field of view), as z (LPS mm), and the nearest slice index
  k of the CT grid; with no tilt this is the skin entry's z;
* C-arm "down-the-barrel" view (DICOM positioner convention, supine patient, detector anterior): the beam
  (source to detector) is taken along the screw axis, oriented so the detector is on the anterior side;
  ``beam = (sin(lao) cos(cc), -cos(lao) cos(cc), sin(cc))``.  ``carm_lao_rao_deg``: + LAO (detector toward
  the patient's left), - RAO; ``carm_cranio_caudal_deg``: + cranial (detector toward the head; the inlet-type
  tilt with the intensifier above the patient), - caudal (outlet-type).  This is the bull's-eye view of cone-beam
  guidance: the guide wire seen end-on, as a dot in a ring;
* C-arm progress view: the beam perpendicular to the screw with no cranio-caudal tilt (a pure LAO/RAO orbit of the
  arm from the same cranio-caudal position 0), in which the wire is seen along its whole length and its advance is
  measured; ``carm_progress_lao_rao_deg`` in the same convention (detector anterior).  A screw along the patient's
  long axis is seen full length in every such view: AP (0) is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PosteoInputError
from ..fileio.volume import CTVolume
from ..geometry.sampling import VolumeSampler
from ..geometry.vectors import unit
from .screw import Screw

AIR_HU = -1000.0
PATIENT_POSITIONS = ("supine", "prone", "lateral-left", "lateral-right")
# patient position -> (tilt axis a, up direction v), LPS
_POSITION_AXES = {"supine": ((1.0, 0, 0), (0, -1.0, 0)), "prone": ((1.0, 0, 0), (0, 1.0, 0)),
                  "lateral-left": ((0, 1.0, 0), (-1.0, 0, 0)), "lateral-right": ((0, 1.0, 0), (1.0, 0, 0))}


@dataclass
class Guidance:
    skin_entry_lps: np.ndarray
    skin_to_bone_entry_mm: float
    skin_to_tip_mm: float
    gantry_tilt_deg: float
    double_oblique: bool
    inplane_angle_deg: float
    table_position_mm: float
    table_slice_index: int
    carm_cranio_caudal_deg: float
    carm_lao_rao_deg: float
    patient_position: str = "supine"
    carm_progress_lao_rao_deg: float = 0.0

    def to_dict(self) -> dict:
        return {
            "skin_entry_lps": [float(v) for v in self.skin_entry_lps],
            "skin_to_bone_entry_mm": float(self.skin_to_bone_entry_mm),
            "skin_to_tip_mm": float(self.skin_to_tip_mm),
            "gantry_tilt_deg": float(self.gantry_tilt_deg),
            "double_oblique": bool(self.double_oblique),
            "inplane_angle_deg": float(self.inplane_angle_deg),
            "table_position_mm": float(self.table_position_mm),
            "table_slice_index": int(self.table_slice_index),
            "carm_cranio_caudal_deg": float(self.carm_cranio_caudal_deg),
            "carm_lao_rao_deg": float(self.carm_lao_rao_deg),
            "patient_position": self.patient_position,
            "carm_progress_lao_rao_deg": float(self.carm_progress_lao_rao_deg),
        }


def check_patient_position(position: str) -> str:
    if position not in _POSITION_AXES:
        raise PosteoInputError(f"patient position {position!r}", f"must be one of {', '.join(PATIENT_POSITIONS)}")
    return position


def scan_plane_axes(direction_lps, patient_position: str = "supine") -> tuple[np.ndarray, np.ndarray]:
    """(a, w): the table's transverse axis and the scan plane's downward direction (see module doc), LPS."""
    a, v = (np.array(x, float) for x in _POSITION_AXES[check_patient_position(patient_position)])
    u = unit(direction_lps, "screw direction")
    w = u - (u @ a) * a
    if np.linalg.norm(w) < 1e-9:  # the screw along the tilt axis: the plain axial plane
        w = -v
    w = w / np.linalg.norm(w)
    if w @ v > 0 or (abs(w @ v) < 1e-12 and w[2] < 0):
        w = -w
    return a, w


def gantry_tilt_deg(direction_lps, patient_position: str = "supine") -> float:
    """Gantry tilt (degrees, + the scan plane's table side cranial) for a screw line (see module doc)."""
    a, w = scan_plane_axes(direction_lps, patient_position)
    v = np.array(_POSITION_AXES[patient_position][1])
    return float(np.degrees(np.arctan2(w[2], -(w @ v))))


def inplane_angle_deg(direction_lps, patient_position: str = "supine") -> float:
    """Angle of the screw (entry to tip) from straight down in the scan plane (degrees, + toward +a)."""
    a, w = scan_plane_axes(direction_lps, patient_position)
    u = unit(direction_lps, "screw direction")
    return float(np.degrees(np.arctan2(u @ a, u @ w)))


def isocentre_table_position_lps(point_lps, direction_lps, ct_geometry, patient_position: str = "supine") -> np.ndarray:
    """Where the scan plane through ``point_lps`` crosses the isocentre line (the table direction z through the
    centre of the image's axial field of view), LPS mm."""
    a, w = scan_plane_axes(direction_lps, patient_position)
    n = np.cross(a, w)
    lo, hi = ct_geometry.bounds_lps()
    centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
    p = np.asarray(point_lps, float)
    if abs(n[2]) < 1e-9:  # a plane along the table: no crossing; keep the point's own z
        return np.array([centre[0], centre[1], p[2]])
    z = p[2] - (n[0] * (centre[0] - p[0]) + n[1] * (centre[1] - p[1])) / n[2]
    return np.array([centre[0], centre[1], z])


def carm_angles_deg(direction_lps) -> tuple[float, float]:
    """(cranio-caudal, LAO/RAO) C-arm angles (degrees) putting the beam along the screw axis (see module doc)."""
    d = unit(direction_lps, "screw direction")
    if d[1] > 0 or (d[1] == 0 and d[0] < 0):  # detector anterior (beam toward -y); tie: LAO
        d = -d
    cc = float(np.degrees(np.arcsin(np.clip(d[2], -1.0, 1.0))))
    lao = float(np.degrees(np.arctan2(d[0], -d[1]))) if np.hypot(d[0], d[1]) > 1e-12 else 0.0
    return cc, lao


def carm_progress_lao_rao_deg(direction_lps) -> float:
    """LAO/RAO angle (degrees, + LAO) of the progress view: beam perpendicular to the screw, no cranio-caudal tilt."""
    d = unit(direction_lps, "screw direction")
    beam = np.cross([0.0, 0.0, 1.0], d)
    if np.linalg.norm(beam) < 1e-9:
        return 0.0
    beam /= np.linalg.norm(beam)
    if beam[1] > 0 or (beam[1] == 0 and beam[0] < 0):  # detector anterior; tie: LAO
        beam = -beam
    return float(np.degrees(np.arctan2(beam[0], -beam[1])))


def skin_entry_distance_mm(screw: Screw, ct: CTVolume, body_threshold_hu: float = -300.0, step_mm: float = 0.5) -> float:
    """Distance (mm) from the screw entry backwards along the axis to the skin (see module doc)."""
    if not step_mm > 0:
        raise PosteoInputError(f"step {step_mm}", "must be > 0 mm")
    geo = ct.geometry
    lo, hi = geo.bounds_lps()
    reach = float(np.linalg.norm(hi - lo)) + float(np.linalg.norm(screw.entry_lps - 0.5 * (lo + hi)))
    t = np.arange(0.0, reach + step_mm, step_mm)
    pts = screw.entry_lps - t[:, None] * screw.direction_lps
    inside = geo.contains_lps(pts)
    if not inside[0]:
        raise PosteoInputError(f"screw '{screw.name}'", "entry point lies outside the CT image")
    n_in = int(np.argmin(inside)) if not inside.all() else len(inside)
    values = VolumeSampler(ct.array, geo, outside_value=AIR_HU)(pts[:n_in])
    body = values > body_threshold_hu
    falls = np.flatnonzero(body[:-1] & ~body[1:])
    if falls.size == 0:
        where = "the body reaches the image border" if body[-1] else "the trajectory never enters the body"
        raise PosteoInputError(f"screw '{screw.name}'", f"no skin found behind the entry point ({where}; "
                                                        f"body threshold {body_threshold_hu:g} HU)")
    if body[-1]:
        raise PosteoInputError(f"screw '{screw.name}'", "the skin entry lies outside the CT image (the body reaches the image border "
                                                        "along the trajectory)")
    i = int(falls[-1])
    v0, v1 = values[i], values[i + 1]
    frac = (v0 - body_threshold_hu) / (v0 - v1)
    return float(t[i] + frac * step_mm)


def compute_guidance(screw: Screw, ct: CTVolume, body_threshold_hu: float = -300.0, max_gantry_tilt_deg: float = 30.0,
                     step_mm: float = 0.5, patient_position: str = "supine") -> Guidance:
    """Guidance parameters of ``screw`` on ``ct`` for a patient lying ``patient_position`` (see module doc)."""
    depth = skin_entry_distance_mm(screw, ct, body_threshold_hu, step_mm)
    u = screw.direction_lps
    skin = screw.entry_lps - depth * u
    tilt = gantry_tilt_deg(u, patient_position)
    cc, lao = carm_angles_deg(u)
    table = isocentre_table_position_lps(skin, u, ct.geometry, patient_position)
    k = int(np.rint(ct.geometry.lps_to_ijk(table)[2]))
    k = min(max(k, 0), ct.geometry.size[2] - 1)
    return Guidance(skin, depth, depth + screw.length_mm, tilt, abs(tilt) > float(max_gantry_tilt_deg),
                    inplane_angle_deg(u, patient_position), float(table[2]), k, cc, lao, patient_position, carm_progress_lao_rao_deg(u))
