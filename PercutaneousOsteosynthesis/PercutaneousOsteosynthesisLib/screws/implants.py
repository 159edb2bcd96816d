"""Implant catalog: cannulated screw families read from JSON files and expanded to implant ids.

A catalog file holds ``"catalog_version": 1``, a ``"name"`` and ``"families"``.  Each family gives
``family``, ``diameter_mm``, ``head_diameter_mm``, ``thread_lengths_mm`` (numbers = partial thread
lengths, ``null`` = full thread; the first is the family's default) and either ``lengths_mm`` (a list)
or ``length_min_mm``/``length_max_mm``/``length_step_mm``; optional ``id_prefix`` (default "CS"),
``cannulated`` (default true) and ``default_length_mm``.  Ids read ``CS-7.3-T16-090``
(prefix, diameter, thread code ``T<n>`` or ``FT``, length).  Partial threads are only listed for
lengths longer than the thread.  Thread arguments accept a code ("T16", "FT"), a thread length
(16) or "full"; a washer is a flag on :class:`~.screw.Screw`, not a separate implant.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PosteoInputError
from ..fileio.resources import resource_path
from .screw import Screw

CATALOG_VERSION = 1
FULL_THREAD = "FT"
_DIAMETER_TOL_MM = 0.01
_LENGTH_TOL_MM = 1e-3
_MAX_LENGTHS_PER_FAMILY = 2000


@dataclass(frozen=True)
class Implant:
    """One orderable screw.  ``thread_length_mm`` is ``None`` for a fully threaded screw."""

    id: str
    diameter_mm: float
    length_mm: float
    thread_length_mm: float | None
    family: str
    cannulated: bool = True
    head_diameter_mm: float = 0.0
    source: str = field(default="", compare=False)

    @property
    def thread_code(self) -> str:
        return FULL_THREAD if self.thread_length_mm is None else f"T{_num_text(self.thread_length_mm)}"


def _num_text(value: float) -> str:
    return str(int(round(value))) if abs(value - round(value)) < 1e-9 else f"{value:g}"


def _diameter_text(d: float) -> str:
    return f"{d:.1f}" if abs(d - round(d, 1)) < 1e-9 else f"{d:g}"


def _length_text(length: float) -> str:
    return f"{int(round(length)):03d}" if abs(length - round(length)) < 1e-9 else f"{length:05.1f}"


def thread_code(thread) -> str:
    """Normalise a thread argument ("T16", 16, "FT", "full", None = full thread) to its code."""
    if thread is None:
        return FULL_THREAD
    if isinstance(thread, str):
        t = thread.strip().upper()
        if t in ("FT", "FULL"):
            return FULL_THREAD
        if t.startswith("T"):
            t = t[1:]
        try:
            value = float(t)
        except ValueError:
            raise PosteoInputError(f"thread {thread!r}", "must be a thread code like 'T16', 'T32' or 'FT' (full thread)") from None
    elif isinstance(thread, (int, float)) and not isinstance(thread, bool):
        value = float(thread)
    else:
        raise PosteoInputError(f"thread {thread!r}", "must be a thread code like 'T16', 'T32' or 'FT' (full thread)")
    if not math.isfinite(value) or value <= 0:
        raise PosteoInputError(f"thread {thread!r}", "thread length must be > 0 mm")
    return f"T{_num_text(value)}"


class ImplantCatalog:
    """Implants by id, with length look-ups by diameter and thread."""

    def __init__(self, implants, name: str = "catalog", default_lengths: dict | None = None):
        self.name = name
        self._by_id: dict[str, Implant] = {}
        for imp in implants:
            if imp.id in self._by_id:
                raise PosteoInputError(imp.source or name, f"duplicate implant id '{imp.id}'")
            self._by_id[imp.id] = imp
        self._family_threads: dict[str, list[str]] = {}
        for imp in self._by_id.values():
            codes = self._family_threads.setdefault(imp.family, [])
            if imp.thread_code not in codes:
                codes.append(imp.thread_code)
        self._default_lengths = dict(default_lengths or {})

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self):
        return iter(self._by_id.values())

    def __contains__(self, implant_id) -> bool:
        return implant_id in self._by_id

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def diameters(self) -> list[float]:
        return sorted({imp.diameter_mm for imp in self})

    def families(self) -> list[str]:
        return list(self._family_threads)

    def get(self, implant_id: str) -> Implant:
        """The implant with this id; unknown ids raise naming the closest ids."""
        try:
            return self._by_id[implant_id]
        except KeyError:
            close = difflib.get_close_matches(str(implant_id), self.ids, n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise PosteoInputError(f"implant '{implant_id}'", f"not in the implant catalog '{self.name}'{hint}") from None

    def _diameter(self, diameter_mm, max_difference_mm: float = _DIAMETER_TOL_MM) -> float:
        d = float(diameter_mm)
        avail = self.diameters()
        if not avail:
            raise PosteoInputError(self.name, "implant catalog is empty")
        best = min(avail, key=lambda a: (abs(a - d), a))
        if not math.isfinite(d) or abs(best - d) > max_difference_mm:
            raise PosteoInputError(f"diameter {diameter_mm} mm", f"no implant of this diameter in '{self.name}'; "
                                                                 f"catalog diameters: {', '.join(f'{a:g}' for a in avail)} mm")
        return best

    def _select(self, diameter_mm, thread=None, family=None, max_diameter_difference_mm=_DIAMETER_TOL_MM) -> list[Implant]:
        d = self._diameter(diameter_mm, max_diameter_difference_mm)
        code = None if thread is None else thread_code(thread)
        out = [imp for imp in self if imp.diameter_mm == d and (code is None or imp.thread_code == code)
               and (family is None or imp.family == family)]
        if not out:
            what = f"{d:g} mm" + (f", thread {code}" if code else "") + (f", family '{family}'" if family else "")
            raise PosteoInputError(f"implant {what}", f"no such implant in the catalog '{self.name}'")
        return out

    def lengths(self, diameter_mm, thread, family=None) -> list[float]:
        """Sorted catalog lengths (mm) for a diameter and thread (``None`` = full thread)."""
        return sorted({imp.length_mm for imp in self._select(diameter_mm, thread_code(thread), family)})

    def snap_length(self, diameter_mm, thread, max_length_mm, family=None) -> Implant:
        """The longest implant of this diameter/thread that is not longer than ``max_length_mm``."""
        cands = self._select(diameter_mm, thread_code(thread), family)
        fits = [imp for imp in cands if imp.length_mm <= float(max_length_mm) + _LENGTH_TOL_MM]
        if not fits:
            shortest = min(imp.length_mm for imp in cands)
            raise PosteoInputError(f"screw length {float(max_length_mm):.1f} mm",
                                   f"shorter than the shortest catalog screw ({shortest:g} mm, {cands[0].diameter_mm:g} mm "
                                   f"{cands[0].thread_code})")
        return max(fits, key=lambda imp: (imp.length_mm, self._thread_rank(imp)))

    def _thread_rank(self, imp: Implant) -> int:
        return -self._family_threads[imp.family].index(imp.thread_code)

    def find(self, diameter_mm, length_mm, thread=None, max_diameter_difference_mm: float = 1.0) -> Implant:
        """Nearest implant: the nearest catalog diameter (within ``max_diameter_difference_mm``), then the
        nearest length (ties: the shorter), then the family's default thread when ``thread`` is ``None``."""
        cands = self._select(diameter_mm, thread, None, max_diameter_difference_mm)
        length = float(length_mm)
        if not math.isfinite(length) or length <= 0:
            raise PosteoInputError(f"screw length {length_mm}", "must be > 0 mm")
        return min(cands, key=lambda imp: (round(abs(imp.length_mm - length), 6), imp.length_mm, -self._thread_rank(imp)))

    def default_for(self, diameter_mm) -> Implant:
        """The default implant of the (first) family with this diameter: its default length and thread."""
        fam = self._select(diameter_mm)[0].family
        in_fam = [imp for imp in self if imp.family == fam]
        lengths = sorted({imp.length_mm for imp in in_fam})
        target = self._default_lengths.get(fam) or lengths[len(lengths) // 2]
        return min(in_fam, key=lambda imp: (-self._thread_rank(imp), abs(imp.length_mm - target), imp.length_mm))


def _field(obj: dict, key: str, path, where: str):
    if key not in obj:
        raise PosteoInputError(path, f"{where}: missing field '{key}'")
    return obj[key]


def _positive(value, key: str, path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise PosteoInputError(path, f"{where}: '{key}' must be a positive number of mm, got {value!r}")
    return float(value)


def _family_implants(fam, path, index: int) -> tuple[list[Implant], str, float | None]:
    where = f"family {index}"
    if not isinstance(fam, dict):
        raise PosteoInputError(path, f"{where}: must be an object")
    name = str(_field(fam, "family", path, where))
    where = f"family {index} ('{name}')"
    d = _positive(_field(fam, "diameter_mm", path, where), "diameter_mm", path, where)
    head = _positive(_field(fam, "head_diameter_mm", path, where), "head_diameter_mm", path, where)
    threads = _field(fam, "thread_lengths_mm", path, where)
    if not isinstance(threads, list) or not threads:
        raise PosteoInputError(path, f"{where}: 'thread_lengths_mm' must be a non-empty list (numbers, null = full thread)")
    threads = [None if t is None else _positive(t, "thread_lengths_mm", path, where) for t in threads]
    if "lengths_mm" in fam:
        lengths = fam["lengths_mm"]
        if not isinstance(lengths, list) or not lengths:
            raise PosteoInputError(path, f"{where}: 'lengths_mm' must be a non-empty list")
        lengths = [_positive(v, "lengths_mm", path, where) for v in lengths]
    else:
        lo = _positive(_field(fam, "length_min_mm", path, where), "length_min_mm", path, where)
        hi = _positive(_field(fam, "length_max_mm", path, where), "length_max_mm", path, where)
        step = _positive(_field(fam, "length_step_mm", path, where), "length_step_mm", path, where)
        if hi < lo:
            raise PosteoInputError(path, f"{where}: length_max_mm {hi:g} is below length_min_mm {lo:g}")
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        if n > _MAX_LENGTHS_PER_FAMILY:
            raise PosteoInputError(path, f"{where}: {n} lengths; length_step_mm {step:g} is too small")
        lengths = [round(lo + i * step, 6) for i in range(n)]
    default_length = fam.get("default_length_mm")
    if default_length is not None:
        default_length = _positive(default_length, "default_length_mm", path, where)
    prefix = str(fam.get("id_prefix", "CS"))
    cannulated = bool(fam.get("cannulated", True))
    out = []
    for t in threads:
        for length in sorted(set(lengths)):
            if t is not None and t >= length:
                continue
            code = FULL_THREAD if t is None else f"T{_num_text(t)}"
            out.append(Implant(f"{prefix}-{_diameter_text(d)}-{code}-{_length_text(length)}", d, length, t, name,
                               cannulated, head, str(path)))
    return out, name, default_length


def read_catalog_file(path) -> tuple[str, list[Implant], dict]:
    """Parse one catalog file: (name, implants, default lengths by family).  Raises naming the file."""
    path = Path(path)
    if not path.is_file():
        raise PosteoInputError(path, "implant catalog file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PosteoInputError(path, f"implant catalog is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PosteoInputError(path, "implant catalog must be a JSON object")
    version = _field(data, "catalog_version", path, "catalog")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PosteoInputError(path, f"catalog_version must be a positive integer, got {version!r}")
    if version > CATALOG_VERSION:
        raise PosteoInputError(path, f"catalog_version {version} is not supported (this version reads up to {CATALOG_VERSION}); "
                                     "update the extension")
    name = str(_field(data, "name", path, "catalog"))
    families = _field(data, "families", path, "catalog")
    if not isinstance(families, list) or not families:
        raise PosteoInputError(path, "'families' must be a non-empty list")
    implants, defaults, seen = [], {}, set()
    for i, fam in enumerate(families):
        imps, fam_name, default_length = _family_implants(fam, path, i)
        for imp in imps:
            if imp.id in seen:
                raise PosteoInputError(path, f"duplicate implant id '{imp.id}'")
            seen.add(imp.id)
        implants += imps
        if default_length is not None:
            defaults[fam_name] = default_length
    return name, implants, defaults


def bundled_catalog_paths() -> list[Path]:
    return sorted(resource_path("Implants").glob("*.json"))


def load_catalog(paths=None, bundled: bool = True) -> ImplantCatalog:
    """Load the bundled catalog(s) (unless ``bundled=False``) merged with the user catalog file(s) ``paths``.

    An id defined twice (in one file or across files) raises, naming the later file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = (bundled_catalog_paths() if bundled else []) + [Path(p) for p in (paths or [])]
    if not files:
        raise PosteoInputError("implant catalog", "no catalog file given")
    implants, defaults, names, seen = [], {}, [], set()
    for f in files:
        name, imps, fam_defaults = read_catalog_file(f)
        for imp in imps:
            if imp.id in seen:
                raise PosteoInputError(f, f"duplicate implant id '{imp.id}' (already defined by an earlier catalog)")
            seen.add(imp.id)
        implants += imps
        defaults.update(fam_defaults)
        names.append(name)
    return ImplantCatalog(implants, " + ".join(names), defaults)


@functools.lru_cache(maxsize=1)
def default_catalog() -> ImplantCatalog:
    """The bundled catalog (loaded once)."""
    return load_catalog()


def screw_from_implant(name: str, implant: Implant, entry_lps, tip_lps, snap: bool = True,
                       catalog: ImplantCatalog | None = None, washer: bool = False, role: str | None = None) -> Screw:
    """A :class:`Screw` from ``entry_lps`` along the drawn direction to ``tip_lps`` (LPS mm) with a catalog length.

    ``snap=True``: the longest length of the implant's family/diameter/thread (in ``catalog``, default the
    bundled one) that fits between entry and tip; the drawn length must reach the shortest length.
    ``snap=False``: ``implant`` as given (its tip may end beyond ``tip_lps``).  ``role``: see :mod:`.roles` (default other).
    """
    entry = np.asarray(entry_lps, float).reshape(-1)
    tip = np.asarray(tip_lps, float).reshape(-1)
    if entry.shape != (3,) or tip.shape != (3,) or not (np.all(np.isfinite(entry)) and np.all(np.isfinite(tip))):
        raise PosteoInputError(f"screw '{name}'", "entry and tip must be 3 finite LPS coordinates each")
    drawn = float(np.linalg.norm(tip - entry))
    if drawn < 1e-6:
        raise PosteoInputError(f"screw '{name}'", "entry point and tip are the same point")
    chosen = implant
    if snap:
        cat = catalog if catalog is not None else default_catalog()
        chosen = cat.snap_length(implant.diameter_mm, implant.thread_code, drawn, family=implant.family)
    new_tip = entry + (tip - entry) / drawn * chosen.length_mm
    return Screw(name, entry, new_tip, chosen.diameter_mm, chosen.id, chosen.thread_length_mm, washer, role=role)
