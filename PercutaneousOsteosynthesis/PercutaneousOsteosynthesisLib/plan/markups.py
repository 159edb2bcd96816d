"""The plan as one Slicer markups JSON file (``.mrk.json``, LPS mm), readable by Slicer and by :func:`load_plan`.

Layout: one ``Line`` markup per screw (control points labelled ``entry`` and ``tip``), one point list
("Fiducial") with a control point per lesion seed, one with a control point per cement injection and a
point list named after the plan holding one control point with an undefined position (invisible in Slicer)
for the plan's own fields.  Plan data sit in control point descriptions (see :mod:`.plan_markups_schema`)
because Slicer keeps them when it loads and re-saves a file; it drops the markup ``name``.

Loading also accepts files Slicer re-saved (a file, a list of files or a folder of ``*.mrk.json``) and
plain ``Line`` markups drawn by hand (named by the markup name, else by the file name; implant = the
catalog's nearest length at 7.3 mm, tip moved to that implant's length).  Markup types other than Line and
point lists are ignored with a ``UserWarning``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import PosteoInputError
from ..fileio.atomic import write_json_atomic
from ..screws.guidance import check_patient_position
from ..screws.roles import parse_role, role_from_name
from ..screws.screw import Screw
from .markups_schema import (
    FORMAT_VERSION,
    SCHEMA_URL,
    MarkupRecord,
    decode_description,
    encode_description,
    number,
    read_markups_file,
)
from .model import CementInjection, LesionSeed, Plan

DEFAULT_DIAMETER_MM = 7.3
LESIONS_NODE_NAME = "Lesion seeds"
CEMENT_NODE_NAME = "Cement injections"
PLAN_POINT_LABEL = "posteo plan"
_LENGTH_EDIT_TOL_MM = 1e-3


def _point(label: str, description: str, position_lps=None) -> dict:
    cp = {"label": label, "description": description}
    if position_lps is None:
        cp["positionStatus"] = "undefined"
    else:
        cp["position"] = [float(v) for v in position_lps]
        cp["positionStatus"] = "defined"
    return cp


def _markup(mtype: str, name: str, points: list, **extra) -> dict:
    return {"type": mtype, "name": name, "coordinateSystem": "LPS", "coordinateUnits": "mm", **extra, "controlPoints": points}


def _screw_markup(i: int, s: Screw, result: dict | None) -> dict:
    result = result or {}
    clearance = result.get("min_clearance_mm")
    desc = encode_description({
        "kind": "screw", "i": i, "name": s.name, "implant": s.implant_id, "d": s.diameter_mm, "len": s.length_mm,
        "thread": "full" if s.thread_length_mm is None else s.thread_length_mm, "washer": bool(s.washer), "role": s.role,
        "bicortical": True if s.bicortical else None,
        "extra": json.dumps(s.extra, ensure_ascii=False, sort_keys=True, default=_jsonable) if s.extra else None,
        "grade": None if result.get("grade") is None else str(result["grade"]),
        "clear": None if clearance is None else float(clearance)})
    return _markup("Line", s.name, [_point("entry", desc, s.entry_lps), _point("tip", "", s.tip_lps)])


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plan_to_markups_json(plan: Plan, results: dict | None = None) -> dict:
    """The markups JSON document (a dict) of ``plan``; ``results`` {screw name: {grade, min_clearance_mm}}."""
    results = plan.results if results is None else results
    markups = [_markup("Fiducial", plan.name, [_point(PLAN_POINT_LABEL, encode_description(
        {"kind": "plan", "name": plan.name, "margin": float(plan.margin_mm), "ct": plan.ct_source or None,
         "position": plan.patient_position}))], locked=True)]
    markups += [_screw_markup(i, s, results.get(s.name)) for i, s in enumerate(plan.screws)]
    if plan.lesions:
        markups.append(_markup("Fiducial", LESIONS_NODE_NAME, [
            _point(les.name, encode_description({"kind": "lesion", "i": i, "name": les.name, "pain": les.pain}), les.seed_lps)
            for i, les in enumerate(plan.lesions)]))
    if plan.cement:
        markups.append(_markup("Fiducial", CEMENT_NODE_NAME, [
            _point(c.name, encode_description({"kind": "cement", "i": i, "name": c.name, "vol": c.volume_ml}), c.point_lps)
            for i, c in enumerate(plan.cement)]))
    return {"@schema": SCHEMA_URL, "markups": markups}


def save_plan(plan: Plan, path, results: dict | None = None) -> Path:
    """Write ``plan`` to ``path`` (``.mrk.json``, LPS mm) atomically; ``results`` default to ``plan.results``."""
    return write_json_atomic(path, plan_to_markups_json(plan, results))


# ----------------------------------------------------------------------------------------------- loading

def plan_files(path) -> list[Path]:
    """The markups files named by ``path``: a file, a folder (its non-hidden ``*.mrk.json``, sorted) or a list of these."""
    if isinstance(path, (list, tuple)):
        if not path:
            raise PosteoInputError("plan files", "empty list of files")
        return [f for p in path for f in plan_files(p)]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.name.endswith(".mrk.json") and not f.name.startswith(".") and f.is_file())
        if not files:
            raise PosteoInputError(p, "folder holds no .mrk.json file")
        return files
    if not p.exists():
        raise PosteoInputError(p, "plan file not found")
    return [p]


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in (".mrk.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


class _Collector:
    """Accumulates plan items over one or more files."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.info: dict | None = None
        self.screws: list = []      # (order key, Screw, result)
        self.lesions: list = []
        self.cement: list = []

    def _catalog(self):
        if self.catalog is None:
            from ..screws.implants import default_catalog

            self.catalog = default_catalog()
        return self.catalog

    def add_file(self, path: Path) -> None:
        for rec in read_markups_file(path):
            if rec.type == "Line":
                self._line(path, rec)
            elif rec.type == "Fiducial":
                self._points(path, rec)
            else:
                warnings.warn(f"{path}: markup {rec.index} of type {rec.type!r} is not part of a plan; ignored", UserWarning,
                              stacklevel=3)

    def _line(self, path: Path, rec: MarkupRecord) -> None:
        where = f"Line markup {rec.index}" + (f" ('{rec.name}')" if rec.name is not None else "")
        if len(rec.points) != 2:
            raise PosteoInputError(path, f"{where} has {len(rec.points)} control points; a screw needs 2 (entry and tip)")
        if any(p.position_lps is None for p in rec.points):
            raise PosteoInputError(path, f"{where}: entry or tip position is undefined")
        pts = rec.points
        if pts[0].label == "tip" and pts[1].label == "entry":
            pts = pts[::-1]
        fields = None
        for p in pts:
            fields = fields or decode_description(p.description, path)
        entry, tip = np.array(pts[0].position_lps), np.array(pts[1].position_lps)
        try:
            if fields is None:
                self._plain_line(path, rec, entry, tip)
            else:
                self._posteo_line(path, where, fields, entry, tip)
        except PosteoInputError as exc:
            if str(exc.source) == str(path):
                raise
            raise PosteoInputError(path, f"{where}: {exc.source}: {exc.problem}") from None

    def _plain_line(self, path, rec, entry, tip) -> None:
        from ..screws.implants import screw_from_implant

        name = rec.name if rec.name is not None else _file_stem(path)
        drawn = float(np.linalg.norm(tip - entry))
        if drawn < 1e-6:
            raise PosteoInputError(path, f"Line '{name}': entry point and tip are the same point")
        implant = self._catalog().find(DEFAULT_DIAMETER_MM, drawn)
        self.screws.append(((math.inf, len(self.screws)), screw_from_implant(name, implant, entry, tip, snap=False, role=role_from_name(name)), None))

    def _posteo_line(self, path, where, f, entry, tip) -> None:
        if f.get("kind") != "screw":
            raise PosteoInputError(path, f"{where}: plan description of kind {f.get('kind')!r} on a Line (expected 'screw')")
        name = f.get("name", "")
        d = number(f, "d", path, positive=True)
        if d is None:
            raise PosteoInputError(path, f"{where}: plan description has no diameter 'd'")
        thread = f.get("thread", "full")
        thread_mm = None if thread == "full" else number({"thread": thread}, "thread", path, positive=True)
        washer = f.get("washer", "0")
        if washer not in ("0", "1"):
            raise PosteoInputError(path, f"{where}: 'washer' must be 0 or 1, got {washer[:20]!r}")
        extra = {}
        if "extra" in f:
            try:
                extra = json.loads(f["extra"])
            except (ValueError, RecursionError):
                raise PosteoInputError(path, f"{where}: 'extra' is not valid JSON") from None
            if not isinstance(extra, dict):
                raise PosteoInputError(path, f"{where}: 'extra' must be a JSON object")
        # plans written before roles: the role a screw's name implies ("... neck ...": femoral neck)
        role = parse_role(f["role"], f"{path}: {where} role") if "role" in f else role_from_name(name)
        bicortical = f.get("bicortical", "0")
        if bicortical not in ("0", "1"):
            raise PosteoInputError(path, f"{where}: 'bicortical' must be 0 or 1, got {bicortical[:20]!r}")
        screw = Screw(name, entry, tip, d, f.get("implant"), thread_mm, washer == "1", extra, role, bicortical == "1")
        saved_len = number(f, "len", path, positive=True)
        if saved_len is not None and abs(saved_len - screw.length_mm) > _LENGTH_EDIT_TOL_MM:
            screw = self._refit(path, screw)
        result = {}
        if "grade" in f:
            result["grade"] = f["grade"]
        clearance = number(f, "clear", path, finite=False)
        if clearance is not None:
            result["min_clearance_mm"] = clearance
        order = number(f, "i", path)
        self.screws.append(((order if order is not None else math.inf, len(self.screws)), screw, result or None))

    def _refit(self, path, screw: Screw) -> Screw:
        """A screw whose points were moved in Slicer: nearest catalog implant of its diameter and thread."""
        from ..screws.implants import screw_from_implant

        implant = self._catalog().find(screw.diameter_mm, screw.length_mm,
                                       "full" if screw.thread_length_mm is None else screw.thread_length_mm)
        warnings.warn(f"{path}: screw '{screw.name}' was moved (length {screw.length_mm:.1f} mm); implant set to "
                      f"{implant.id} and its tip to that length", UserWarning, stacklevel=4)
        out = screw_from_implant(screw.name, implant, screw.entry_lps, screw.tip_lps, snap=False, washer=screw.washer)
        out.extra = dict(screw.extra)
        out.role = screw.role
        out.bicortical = screw.bicortical
        return out

    def _points(self, path: Path, rec: MarkupRecord) -> None:
        decoded = [decode_description(p.description, path) for p in rec.points]
        kinds = {f.get("kind") for f in decoded if f is not None}
        default_kind = kinds.pop() if len(kinds) == 1 and kinds <= {"lesion", "cement"} else "lesion"
        for k, (p, f) in enumerate(zip(rec.points, decoded)):
            label = p.label or f"{rec.name or _file_stem(path)}-{k + 1}"
            where = f"point list {rec.index} control point {k} ('{label}')"
            kind = default_kind if f is None else f.get("kind")
            f = f or {}
            if kind == "plan":
                self._plan_info(path, where, f)
                continue
            if kind not in ("lesion", "cement"):
                raise PosteoInputError(path, f"{where}: unknown plan item kind {kind!r}")
            if p.position_lps is None:
                raise PosteoInputError(path, f"{where}: position is undefined")
            order = number(f, "i", path)
            key = (order if order is not None else math.inf, k)
            name = f.get("name", label)
            try:
                if kind == "lesion":
                    self.lesions.append((key, LesionSeed(name, p.position_lps, f.get("pain"))))
                else:
                    vol = number(f, "vol", path, positive=True)
                    if vol is None:
                        raise PosteoInputError(path, f"{where}: cement injection without volume 'vol'")
                    self.cement.append((key, CementInjection(name, p.position_lps, vol)))
            except PosteoInputError as exc:
                if str(exc.source) == str(path):
                    raise
                raise PosteoInputError(path, f"{where}: {exc.problem}") from None

    def _plan_info(self, path, where, f) -> None:
        margin = number(f, "margin", path)
        if margin is not None and margin < 0:
            raise PosteoInputError(path, f"{where}: margin must be >= 0 mm, got {margin}")
        position = f.get("position", "supine")  # plans written before the field: supine
        try:
            check_patient_position(position)
        except PosteoInputError as exc:
            raise PosteoInputError(path, f"{where}: {exc.source}: {exc.problem}") from None
        info = {"name": f.get("name", "plan"), "margin_mm": 1.0 if margin is None else margin, "ct_source": f.get("ct", ""),
                "patient_position": position}
        if self.info is None:
            self.info = info
        elif info != self.info:
            warnings.warn(f"{path}: second plan description differs from the first one; the first is kept", UserWarning,
                          stacklevel=4)

    def plan(self, default_name: str) -> Plan:
        info = self.info or {"name": default_name, "margin_mm": 1.0, "ct_source": "", "patient_position": "supine"}
        screws, results, seen = [], {}, set()
        for _, s, result in sorted(self.screws, key=lambda t: t[0]):
            name = s.name
            n = 2
            while name in seen:
                name, n = f"{s.name} ({n})", n + 1
            if name != s.name:
                warnings.warn(f"two screws named '{s.name}': the second is renamed '{name}'", UserWarning, stacklevel=3)
                s = s.with_points(s.entry_lps, s.tip_lps)
                s.name = name
            seen.add(name)
            screws.append(s)
            if result:
                results[name] = result
        lesions = [x for _, x in sorted(self.lesions, key=lambda t: t[0])]
        cement = [x for _, x in sorted(self.cement, key=lambda t: t[0])]
        return Plan(info["name"], screws, lesions, cement, info["margin_mm"], info["ct_source"], results, info["patient_position"])


def load_plan(path, catalog=None) -> Plan:
    """Rebuild a plan (LPS mm) from a markups file, a list of files or a folder of ``*.mrk.json``.

    ``catalog`` (default: the bundled one) picks implants for hand-drawn lines and moved screws.
    Raises :class:`PosteoInputError` naming the file and the problem.
    """
    files = plan_files(path)
    col = _Collector(catalog)
    for f in files:
        col.add_file(f)
    if not (col.info or col.screws or col.lesions or col.cement):
        raise PosteoInputError(files[0] if len(files) == 1 else f"{len(files)} plan files",
                               "holds no plan: no Line (screw) or point list markups")
    return col.plan(_file_stem(files[0]))


def _sanitized_document(path: Path) -> dict:
    """The Line and point-list markups of ``path`` reduced to the fields :func:`load_plan` validated (LPS).

    Slicer's reader crashes on some malformed optional fields (short orientation arrays, non-object
    measurements, printf directives in a measurement's ``printFormat``), so it only ever sees this copy;
    display properties and measurements of the file are not loaded (Slicer uses its defaults).
    """
    markups = []
    for rec in read_markups_file(path):
        if rec.type not in ("Line", "Fiducial"):
            continue
        m = {"type": rec.type, "coordinateSystem": "LPS", "coordinateUnits": "mm",
             "controlPoints": [_point(p.label, p.description, p.position_lps) for p in rec.points]}
        if rec.name is not None:
            m["name"] = rec.name
        markups.append(m)
    return {"@schema": SCHEMA_URL, "markups": markups}


def load_plan_into_scene(path, scene) -> list[str]:
    """Load the plan file(s) into ``scene`` with Slicer's markups reader; return the new markups node ids.

    The files are validated with :func:`load_plan` first and Slicer reads a copy reduced to the validated
    fields (see :func:`_sanitized_document`); the nodes' storage nodes point at the original files.  If
    Slicer's reader fails, every node it added is removed again, so nothing is half-loaded.  Positions in
    the scene are RAS (Slicer converts).  Markup types other than Line and point lists are not loaded.
    """
    import tempfile

    from ..fileio.scene import markups_logic

    load_plan(path)
    files = plan_files(path)
    docs = [_sanitized_document(f) for f in files]
    logic = markups_logic(scene)
    before = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    ids: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="posteo-plan-") as tmp:
            for f, doc in zip(files, docs):
                if not doc["markups"]:
                    continue
                copy = write_json_atomic(Path(tmp) / f.name, doc)
                known = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
                if not logic.LoadMarkups(str(copy), _file_stem(f)):
                    raise PosteoInputError(f, "Slicer's markups reader could not load the file")
                for i in range(scene.GetNumberOfNodes()):
                    node = scene.GetNthNode(i)
                    if node.GetID() not in known and node.IsA("vtkMRMLMarkupsNode"):
                        ids.append(node.GetID())
                        if node.GetStorageNode() is not None:
                            node.GetStorageNode().SetFileName(str(f))
    except BaseException:
        added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
        for node in added:
            if node.GetID() not in before:
                scene.RemoveNode(node)
        raise
    return ids


__all__ = ["FORMAT_VERSION", "save_plan", "load_plan", "load_plan_into_scene", "plan_to_markups_json", "plan_files"]
