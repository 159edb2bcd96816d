"""``corridors.json``: the corridors found on one CT, versioned (``@schema``, ``format_version``), LPS mm.

Top level: ``@schema``, ``format_version``, ``coordinate_system`` "LPS", ``units`` "mm", ``ct`` (source file and
sha256), ``margin_mm`` and ``corridors``: one object per pathway and side (corridors.find.Corridor.to_dict: ``name``,
``side``, ``role``, ``found``, ``reason``, ``entry_lps``, ``tip_lps``, ``width_mm``, ``diameter_mm``, ``length_mm``,
``min_clearance_mm``, ``implant_id``, ``grade``, ...; a femoral-neck corridor also has ``triad``: its three parallel
screws in an inverted triangle, corridors.triad.Triad.to_dict). :func:`read_corridors` reads it back, refusing
malformed files and files of a newer format.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PosteoInputError
from ..fileio.atomic import write_json_atomic
from ..fileio.versioned_json import read_versioned_json

SCHEMA_URL = "https://percutaneous-osteosynthesis.org/schema/corridors-v1.json"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("name", "side", "found", "entry_lps", "tip_lps", "diameter_mm", "length_mm", "min_clearance_mm",
                 "implant_id", "grade")


def corridors_document(corridors, ct=None, margin_mm: float = 1.0) -> dict:
    return {"@schema": SCHEMA_URL, "format_version": FORMAT_VERSION, "coordinate_system": "LPS", "units": "mm",
            "ct": {"source": getattr(ct, "source", ""), "sha256": getattr(ct, "sha256", "")}, "margin_mm": float(margin_mm),
            "corridors": [c.to_dict() for c in corridors]}


def write_corridors(path, corridors, ct=None, margin_mm: float = 1.0) -> Path:
    """Write ``corridors.json`` atomically."""
    return write_json_atomic(path, corridors_document(corridors, ct, margin_mm))


def read_corridors(path) -> dict:
    """The document of a ``corridors.json`` (see module doc)."""
    doc, _ = read_versioned_json(path, "corridor list", "corridors", FORMAT_VERSION)
    for i, c in enumerate(doc["corridors"]):
        missing = [k for k in REQUIRED_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            raise PosteoInputError(path, f"corridor {i + 1} lacks {', '.join(missing)}")
    return doc
