"""Reading a Slicer markups JSON file into plain records, and the plan fields kept in control point descriptions.

Slicer's own load -> save keeps, per control point, ``label``, ``description``, ``id``, ``associatedNodeID``,
``position`` (re-written in LPS) and ``positionStatus``; it reads the markup ``name`` (as the node name) but
does not write it back, and drops unknown keys.  So everything the plan needs lives in control point
descriptions: ``posteo:v<format>;key=value;...`` with every value percent-encoded (UTF-8), so that
unicode, quotes, commas, semicolons, ``=`` and ``%`` in names survive unchanged.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from ..errors import PosteoInputError
from ..geometry.frames import ras_to_lps

FORMAT_VERSION = 1
PREFIX = "posteo:"
SCHEMA_URL = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
              "markups-schema-v1.0.3.json#")
KNOWN_TYPES = ("Fiducial", "Line", "Angle", "Curve", "ClosedCurve", "Plane", "ROI")
_VERSION_RE = re.compile(r"posteo:v(\d{1,9});?")
_SAFE = " ._-()+@:/"


def escape(value) -> str:
    """Percent-encode ``value`` (str) so that it holds no ``;``, ``=``, ``%`` or non-ASCII character."""
    try:
        return quote(str(value), safe=_SAFE, encoding="utf-8", errors="strict")
    except UnicodeEncodeError as exc:
        raise PosteoInputError(f"text {value!r}", f"cannot be stored as UTF-8 ({exc.reason})") from None


def encode_description(fields: dict) -> str:
    """``posteo:v<FORMAT_VERSION>;k=v;...`` for the non-None entries of ``fields`` (values escaped)."""
    parts = [f"{PREFIX}v{FORMAT_VERSION}"]
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float):
            value = repr(value)
        parts.append(f"{key}={escape(value)}")
    return ";".join(parts)


def decode_description(text: str, source) -> dict | None:
    """The fields of a posteo description (values unescaped), or ``None`` if ``text`` is not one.

    Raises naming ``source`` if it is malformed or written by a newer format version.
    """
    if not text.startswith(PREFIX):
        return None
    m = _VERSION_RE.match(text)
    if m is None:
        raise PosteoInputError(source, f"malformed plan description {text[:60]!r} (expected 'posteo:v<version>;...')")
    version = int(m.group(1))
    if version > FORMAT_VERSION:
        raise PosteoInputError(source, f"written by plan format version {version}; this version reads plan format "
                                       f"version {FORMAT_VERSION} and older: update the extension")
    if version < 1:
        raise PosteoInputError(source, f"invalid plan format version {version}")
    out: dict[str, str] = {}
    for item in text[m.end():].split(";"):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise PosteoInputError(source, f"malformed field {item[:40]!r} in plan description")
        if key in out:
            raise PosteoInputError(source, f"field '{key}' given twice in plan description")
        try:
            out[key] = unquote(raw, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise PosteoInputError(source, f"field '{key}' is not valid percent-encoded UTF-8") from None
    return out


def number(fields: dict, key: str, source, finite: bool = True, positive: bool = False) -> float | None:
    """``fields[key]`` as float (``None`` if absent); raises naming ``source`` if it is not a valid number."""
    if key not in fields:
        return None
    try:
        value = float(fields[key])
    except ValueError:
        raise PosteoInputError(source, f"field '{key}' is not a number: {fields[key][:40]!r}") from None
    if (finite and not math.isfinite(value)) or (positive and not value > 0):
        raise PosteoInputError(source, f"field '{key}' must be a {'positive ' if positive else ''}finite number, got {value}")
    return value


@dataclass
class PointRecord:
    """One control point: ``position_lps`` is ``None`` when its position is undefined."""

    label: str
    description: str
    position_lps: tuple | None


@dataclass
class MarkupRecord:
    """One markup of a file: its type, name (``None`` if the file has none) and control points (LPS)."""

    type: str
    name: str | None
    points: list[PointRecord] = field(default_factory=list)
    index: int = 0


def _string(obj: dict, key: str, path, where: str, default=None):
    value = obj.get(key, default)
    if value is not default and not isinstance(value, str):
        raise PosteoInputError(path, f"{where}: '{key}' must be a string, got {type(value).__name__}")
    return value


def _position(value, path, where: str) -> tuple:
    if not isinstance(value, list) or len(value) != 3:
        raise PosteoInputError(path, f"{where}: 'position' must be a list of 3 numbers, got {str(value)[:60]}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PosteoInputError(path, f"{where}: 'position' holds a non-number {str(v)[:40]!r}")
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            raise PosteoInputError(path, f"{where}: 'position' has NaN or infinite coordinates {str(value)[:80]}")
        out.append(f)
    return tuple(out)


def _units_ok(units) -> bool:
    if units is None or units == "mm":
        return True
    return isinstance(units, list) and len(units) == 3 and units[0] == "mm"


def _markup(obj, path, index: int) -> MarkupRecord:
    where = f"markup {index}"
    if not isinstance(obj, dict):
        raise PosteoInputError(path, f"{where} must be a JSON object")
    mtype = _string(obj, "type", path, where)
    if mtype is None:
        raise PosteoInputError(path, f"{where} has no 'type'")
    name = _string(obj, "name", path, where)
    if name is not None:
        where = f"markup {index} ('{name}')"
    system = _string(obj, "coordinateSystem", path, where, "LPS")
    if system not in ("LPS", "RAS"):
        raise PosteoInputError(path, f"{where}: coordinateSystem must be 'LPS' or 'RAS', got {system!r}")
    if not _units_ok(obj.get("coordinateUnits")):
        raise PosteoInputError(path, f"{where}: coordinateUnits must be 'mm', got {str(obj.get('coordinateUnits'))[:40]}")
    cps = obj.get("controlPoints", [])
    if not isinstance(cps, list):
        raise PosteoInputError(path, f"{where}: 'controlPoints' must be a list")
    rec = MarkupRecord(mtype, name, [], index)
    for k, cp in enumerate(cps):
        pwhere = f"{where} control point {k}"
        if not isinstance(cp, dict):
            raise PosteoInputError(path, f"{pwhere} must be a JSON object")
        label = _string(cp, "label", path, pwhere, "")
        desc = _string(cp, "description", path, pwhere, "")
        status = _string(cp, "positionStatus", path, pwhere, "defined")
        if status not in ("defined", "preview", "undefined"):
            raise PosteoInputError(path, f"{pwhere}: positionStatus must be defined/preview/undefined, got {status!r}")
        pos = None
        if status != "undefined":
            if "position" not in cp:
                raise PosteoInputError(path, f"{pwhere} has no 'position'")
            pos = _position(cp["position"], path, pwhere)
            if system == "RAS":
                pos = tuple(float(v) for v in ras_to_lps(pos))
        rec.points.append(PointRecord(label, desc, pos))
    return rec


class _NonFinite(ValueError):
    pass


def _no_constant(text: str):
    raise _NonFinite(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _finite_int(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _NonFinite(text) from None
    return value


def read_markups_file(path) -> list[MarkupRecord]:
    """All markups of a markups JSON file with LPS positions; raises naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise PosteoInputError(path, "markups file not found")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float,
                          parse_int=_finite_int)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except _NonFinite as exc:
        raise PosteoInputError(path, f"markups file holds NaN or infinite number {str(exc)[:40]} (Slicer cannot read it)") from None
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise PosteoInputError(path, "markups file is not valid UTF-8 text (or holds an unpaired surrogate escape)") from None
    except json.JSONDecodeError as exc:
        raise PosteoInputError(path, f"markups file is not valid JSON (truncated or corrupt: {exc.msg} at line {exc.lineno})") from None
    except (RecursionError, ValueError) as exc:
        raise PosteoInputError(path, f"markups file cannot be parsed ({type(exc).__name__})") from None
    except OSError as exc:
        raise PosteoInputError(path, f"cannot read markups file ({exc.strerror})") from None
    if not isinstance(data, dict) or not isinstance(data.get("markups"), list):
        raise PosteoInputError(path, "not a Slicer markups file (expected a JSON object with a 'markups' list)")
    schema = data.get("@schema")
    if schema is not None and (not isinstance(schema, str) or "markups-schema" not in schema):
        raise PosteoInputError(path, f"not a Slicer markups file ('@schema' is {str(schema)[:80]!r})")
    return [_markup(m, path, i) for i, m in enumerate(data["markups"])]
