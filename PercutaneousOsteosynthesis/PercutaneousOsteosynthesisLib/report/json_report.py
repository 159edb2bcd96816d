"""The plan report ``report.json`` (LPS mm): schema URL, provenance, and one entry per screw.

Format versions: 1 (first release); 2 adds per screw ``perforation_mm``/``perforation_grade``, ``bicortical``,
``exit_zone_mm``, ``overshoot_to_bone_mm``, ``head_seat`` and ``role``; per lesion ``fracture_risk`` and a
``MirelsResult`` (``site``, ``level``); per cement ``screws_in_contact``; and ``patient_position``, ``ct_quality``.
:func:`read_report` reads both (a version-1 report gains those keys with "not assessed" values) and refuses newer
versions and malformed files with the file's name.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from .. import __version__
from ..fileio.atomic import write_json_atomic

SCHEMA_URL = "https://percutaneous-osteosynthesis.org/schema/report-v2.json"
FORMAT_VERSION = 2
GUIDANCE_KEYS = ("skin_entry_lps", "skin_to_bone_entry_mm", "skin_to_tip_mm", "gantry_tilt_deg", "double_oblique",
                 "inplane_angle_deg", "table_position_mm", "table_slice_index", "carm_cranio_caudal_deg", "carm_lao_rao_deg",
                 "carm_progress_lao_rao_deg")


def _finite_or_none(v):
    return None if v is None or not np.isfinite(v) else float(v)


def screw_entry(screw, check, guidance: dict | None) -> dict:
    """One screw of the report: geometry, clearance results, profile and guidance (``None`` values when the
    guidance could not be computed)."""
    d = check.to_dict(profile=True)
    out = {"name": screw.name, "role": screw.role, "implant_id": screw.implant_id, "diameter_mm": float(screw.diameter_mm),
           "length_mm": float(screw.length_mm),
           "thread_length_mm": None if screw.thread_length_mm is None else float(screw.thread_length_mm),
           "entry_lps": [float(v) for v in screw.entry_lps], "tip_lps": [float(v) for v in screw.tip_lps]}
    for k in ("min_clearance_mm", "min_clearance_at_mm", "breach_length_mm", "bone_fraction", "grade", "perforation_mm",
              "perforation_grade", "entry_zone_mm", "bicortical", "exit_zone_mm", "overshoot_to_bone_mm", "nogo", "neural", "articular", "implant", "enhanced",
              "tip_protrusion_mm", "tip_in_joint", "joints_crossed"):
        out[k] = d[k]
    out["metal_clearance_mm"] = _finite_or_none(check.metal_clearance_mm)
    out["profile"] = d["profile"]
    g = guidance or {}
    for k in GUIDANCE_KEYS:
        out[k] = g.get(k)
    return out


def build_report(ct, margin_mm: float, screws: list, pairs: list, bone_volumes: dict, extra: dict | None = None) -> dict:
    """The report dictionary; ``screws`` are :func:`screw_entry` dicts, ``pairs`` ``{a, b, min_gap_mm}``."""
    report = {
        "@schema": SCHEMA_URL,
        "format_version": FORMAT_VERSION,
        "software": f"PercutaneousOsteosynthesis {__version__}",
        "coordinate_system": "LPS",
        "units": "mm",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "ct": {"path": str(ct.source), "sha256": ct.sha256, "geometry": ct.geometry.to_dict()},
        "margin_mm": float(margin_mm),
        "screws": screws,
        "pairs": [{"a": p["a"], "b": p["b"], "min_gap_mm": float(p["min_gap_mm"])} for p in pairs],
        "bone": {"volumes": {k: float(v) for k, v in bone_volumes.items()}},
        "lesions": [],  # filled by analyze_lesions_and_cement (lesion/cement analysis, separate module)
        "cement": [],
    }
    report.update(extra or {})
    return report


def _upgrade_v1(report: dict) -> dict:
    """A version-1 report with the version-2 keys (values a version-1 report did not assess: None / False / {})."""
    from ..screws.clearance import perforation_grade

    for e in report.get("screws", []):
        if "min_clearance_mm" in e and e["min_clearance_mm"] is not None:
            e.setdefault("perforation_mm", max(0.0, -float(e["min_clearance_mm"])))
            e.setdefault("perforation_grade", perforation_grade(float(e["min_clearance_mm"])))
        for key, value in (("bicortical", False), ("exit_zone_mm", 0.0), ("overshoot_to_bone_mm", None), ("head_seat", None),
                           ("role", "other"), ("nogo", {}), ("neural", []), ("articular", []), ("implant", []), ("enhanced", [])):
            e.setdefault(key, value)
    for les in report.get("lesions", []):
        les.setdefault("fracture_risk", {})
    report.setdefault("patient_position", "supine")
    report.setdefault("ct_quality", {})
    report["upgraded_from_format_version"] = 1
    report["format_version"] = FORMAT_VERSION
    report["@schema"] = SCHEMA_URL
    return report


def read_report(path) -> dict:
    """``report.json`` of any supported format version, as the current version (see the module docstring)."""
    from ..fileio.versioned_json import read_versioned_json

    report, version = read_versioned_json(path, "report", "screws", FORMAT_VERSION, list_required=False)
    return _upgrade_v1(report) if version == 1 else report


def write_report(path, report: dict):
    """Write ``report.json`` atomically."""
    return write_json_atomic(path, report)
