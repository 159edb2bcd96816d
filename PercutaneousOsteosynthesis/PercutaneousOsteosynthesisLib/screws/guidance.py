"""CT / cone-beam guidance parameters of a planned screw (patient axes, LPS mm).

Conventions (all relative to the patient's LPS axes, whatever the CT's direction matrix; ``u`` is the
unit screw direction from entry to tip, ``u = (ux, uy, uz)``, x = Left, y = Posterior, z = Superior):

* skin entry: the screw line continued backwards from the entry (away from the tip) is sampled every
  ``step_mm``; the skin is the last body-to-air transition (value falls to ``<= body_threshold_hu``) before
  the image border, refined linearly between the two samples;
* gantry tilt: angle of the axis projected on the sagittal (y-z) plane from the axial plane,
  ``atan2(uz, |uy|)``, + when the tip is cranial to the entry.  The axial plane rotated about the patient's
  left-right axis by this angle contains the screw.  ``double_oblique`` when ``|tilt| > max_gantry_tilt_deg``;
* in-plane angle: angle between the screw and the patient's vertical (antero-posterior) direction measured
  in that (tilted) scan plane, ``atan2(ux, hypot(uy, uz))``, + when the tip goes toward the patient's left;
  with no tilt this is the usual angle from the vertical on the axial slice (0 = straight AP, ±90 = horizontal);
* table position: z (LPS mm) of the skin entry, and the nearest slice index k of the CT grid;
* C-arm "down-the-barrel" view (DICOM positioner convention, supine patient, detector anterior): the beam
  (source to detector) is taken along the screw axis, oriented so the detector is on the anterior side;
  ``beam = (sin(lao) cos(cc), -cos(lao) cos(cc), sin(cc))``.  ``carm_lao_rao_deg``: + LAO (detector toward
  the patient's left), - RAO; ``carm_cranio_caudal_deg``: + cranial (detector toward the head; the inlet-type
  tilt with the intensifier above the patient), - caudal (outlet-type).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PosteoInputError
from ..fileio.volume import CTVolume
from ..geometry.sampling import VolumeSampler
from .screw import Screw

AIR_HU = -1000.0


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
        }


def gantry_tilt_deg(direction_lps) -> float:
    """Gantry tilt (degrees, + tip cranial) for a screw direction (entry to tip, LPS)."""
    ux, uy, uz = _unit(direction_lps)
    return float(np.degrees(np.arctan2(uz, abs(uy))))


def inplane_angle_deg(direction_lps) -> float:
    """Angle from the vertical in the (tilted) scan plane (degrees, + tip toward patient left)."""
    ux, uy, uz = _unit(direction_lps)
    return float(np.degrees(np.arctan2(ux, np.hypot(uy, uz))))


def carm_angles_deg(direction_lps) -> tuple[float, float]:
    """(cranio-caudal, LAO/RAO) C-arm angles (degrees) putting the beam along the screw axis (see module doc)."""
    d = _unit(direction_lps)
    if d[1] > 0 or (d[1] == 0 and d[0] < 0):  # detector anterior (beam toward -y); tie: LAO
        d = -d
    cc = float(np.degrees(np.arcsin(np.clip(d[2], -1.0, 1.0))))
    lao = float(np.degrees(np.arctan2(d[0], -d[1]))) if np.hypot(d[0], d[1]) > 1e-12 else 0.0
    return cc, lao


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float).reshape(3)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-12:
        raise PosteoInputError("screw direction", "must be a non-zero vector")
    return v / n


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
                     step_mm: float = 0.5) -> Guidance:
    """Guidance parameters of ``screw`` on ``ct`` (see module doc for every convention)."""
    depth = skin_entry_distance_mm(screw, ct, body_threshold_hu, step_mm)
    u = screw.direction_lps
    skin = screw.entry_lps - depth * u
    tilt = gantry_tilt_deg(u)
    cc, lao = carm_angles_deg(u)
    k = int(np.rint(ct.geometry.lps_to_ijk(skin)[2]))
    k = min(max(k, 0), ct.geometry.size[2] - 1)
    return Guidance(skin, depth, depth + screw.length_mm, tilt, abs(tilt) > float(max_gantry_tilt_deg),
                    inplane_angle_deg(u), float(skin[2]), k, cc, lao)
