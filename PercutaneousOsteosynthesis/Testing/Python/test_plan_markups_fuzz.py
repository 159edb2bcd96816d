"""Fuzzing the plan reader: mutated valid markups files give a plan or PosteoInputError, never another exception.

Run ``python test_plan_markups_fuzz.py 60`` for a longer (60 s) random fuzz outside pytest.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.fileio import scene as mrml
from PercutaneousOsteosynthesisLib.plan.markups import load_plan, load_plan_into_scene, plan_to_markups_json
from PercutaneousOsteosynthesisLib.plan.model import CementInjection, LesionSeed, Plan
from PercutaneousOsteosynthesisLib.screws.screw import Screw

ODD_VALUES = [None, True, False, 0, -1, 10 ** 400, 1.5, -0.0, math.nan, math.inf, "", "x", "posteo:v9;kind=screw",
              "posteo:v1;kind=screw;d=%ZZ", "posteo:v1;kind=plan;margin=-3", "posteo:v", "posteo:v1;;=;a", [], [1, 2],
              [0, 0, "0"], {}, {"a": 1}, "RAS", "LPS", "undefined", "Line", "Fiducial", "Angle", "um"]
ODD_TEXT = [";", "=", "%", "%0", "%FF", "posteo:v2", "kind=cement", "i=nan", "len=0", "thread=-1", "washer=2", "extra=%5B%5D",
            "\x00", "é", "\ud800", "d=inf", "vol=1e400"]


def seed_documents() -> list:
    """Valid files: a full plan (ours), the same after Slicer's load -> save, a hand-drawn RAS line."""
    import slicer

    plan = Plan("p;1", [Screw('S "1"', [1, 2, 3], [40, 50, 90.5], 7.3, "CS-7.3-T16-090", 16.0, True, {"k": [1]}),
                        Screw("S2", [-5, 0, 0], [-5, 0, 60], 6.5)],
                [LesionSeed("L,1", [0, 1, 2], "mild")], [CementInjection("C", [3, 3, 3], 2.0)], 1.0, "ct.nrrd",
                {'S "1"': {"grade": "acceptable", "min_clearance_mm": 2.0}})
    ours = plan_to_markups_json(plan)
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "p.mrk.json"
        src.write_text(json.dumps(ours), encoding="utf-8")
        scene = mrml.prepare_scene()
        mrml.markups_logic(scene).LoadMarkups(str(src), "p")
        line = scene.GetFirstNodeByClass("vtkMRMLMarkupsLineNode")
        storage = slicer.vtkMRMLMarkupsJsonStorageNode()
        scene.AddNode(storage)
        storage.SetFileName(str(Path(d) / "resaved.mrk.json"))
        storage.WriteData(line)
        resaved = json.loads((Path(d) / "resaved.mrk.json").read_text(encoding="utf-8"))
    plain = {"markups": [{"type": "Line", "name": "drawn", "coordinateSystem": "RAS",
                          "controlPoints": [{"label": "a", "position": [0, 0, 0]}, {"label": "b", "position": [3, 4, 80]}]},
                         {"type": "Curve", "controlPoints": []}]}
    return [ours, resaved, plain]


class RandomChooser:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]


class DataChooser:
    def __init__(self, data):
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def choice(self, seq):
        return seq[self.data.draw(st.integers(0, len(seq) - 1))]


def _slots(node, out, parent=None, key=None):
    """All (container, key) places of a JSON tree."""
    if parent is not None:
        out.append((parent, key))
    if isinstance(node, dict):
        for k in list(node):
            _slots(node[k], out, node, k)
    elif isinstance(node, list):
        for i in range(len(node)):
            _slots(node[i], out, node, i)
    return out


def _mutate_tree(doc, c) -> None:
    slots = _slots(doc, [])
    if not slots:
        return
    parent, key = c.choice(slots)
    op = c.integer(0, 4)
    if op == 0:                                   # delete a key / list item
        del parent[key]
    elif op == 1:                                 # swap in a value of another type
        parent[key] = copy.deepcopy(c.choice(ODD_VALUES))
    elif op == 2 and isinstance(parent[key], str):  # edit a string (descriptions, labels, types)
        s = parent[key]
        i = c.integer(0, len(s))
        parent[key] = s[:i] + c.choice(ODD_TEXT) + s[i + c.integer(0, 3):]
    elif op == 3 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = c.choice([-parent[key], parent[key] * 10 ** 300, math.nan, 0, 1e-320])
    elif op == 4 and isinstance(parent, list):    # duplicate an item (e.g. a third control point)
        parent.insert(key, copy.deepcopy(parent[key]))


def mutated_bytes(c, seeds) -> bytes:
    doc = copy.deepcopy(c.choice(seeds))
    for _ in range(c.integer(1, 4)):
        _mutate_tree(doc, c)
    text = json.dumps(doc, ensure_ascii=c.choice([True, False]))
    try:
        raw = bytearray(text.encode("utf-8", errors=c.choice(["surrogatepass", "replace"])))
    except UnicodeEncodeError:
        raw = bytearray(text.encode("utf-8", errors="replace"))
    op = c.integer(0, 3)
    if op == 1 and raw:                           # truncate
        del raw[c.integer(0, len(raw) - 1):]
    elif op == 2 and raw:                         # flip bytes
        for _ in range(c.integer(1, 8)):
            raw[c.integer(0, len(raw) - 1)] = c.integer(0, 255)
    elif op == 3 and raw:                         # delete a span
        i = c.integer(0, len(raw) - 1)
        del raw[i: i + c.integer(1, 40)]
    return bytes(raw)


def check_one(raw: bytes, path: Path, scene_check: bool = False) -> str:
    """Load ``raw`` from ``path``: 'ok' or 'error'; any exception other than PosteoInputError propagates."""
    path.write_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_plan(path)
        except PosteoInputError as exc:
            assert str(path) in str(exc)
            return "error"
        if scene_check:
            scene = mrml.prepare_scene()
            ids = load_plan_into_scene(path, scene)
            # one node per Line or point list (other types are ignored, as by load_plan)
            assert len(ids) == sum(m["type"] in ("Line", "Fiducial") for m in json.loads(raw.decode("utf-8"))["markups"])
    return "ok"


SEEDS = None
COUNTS = {"ok": 0, "error": 0}


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          derandomize=True)
@given(data=st.data())
def test_fuzz_mutated_files(data, tmp_path):
    global SEEDS
    if SEEDS is None:
        SEEDS = seed_documents()
    c = DataChooser(data)
    raw = mutated_bytes(c, SEEDS)
    COUNTS[check_one(raw, tmp_path / "fuzz.mrk.json", scene_check=c.integer(0, 9) == 0)] += 1


def test_fuzz_report():
    """Runs after the fuzz test: at least 300 inputs were tried, both outcomes occurred."""
    total = COUNTS["ok"] + COUNTS["error"]
    print(f"\nplan markups fuzz: {total} inputs tried ({COUNTS['ok']} loaded, {COUNTS['error']} PosteoInputError)")
    assert total >= 300 and COUNTS["ok"] > 0 and COUNTS["error"] > 0


def long_fuzz(seconds: float, seed: int = 0) -> dict:
    rng = random.Random(seed)
    c = RandomChooser(rng)
    seeds = seed_documents()
    counts = {"ok": 0, "error": 0}
    end = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.mrk.json"
        while time.monotonic() < end:
            raw = mutated_bytes(c, seeds)
            scene_check = rng.random() < 0.05
            if scene_check:   # kept in case Slicer's reader crashes the process
                (Path(tempfile.gettempdir()) / "posteo_fuzz_last_scene_input.mrk.json").write_bytes(raw)
            try:
                counts[check_one(raw, path, scene_check=scene_check)] += 1
            except Exception:
                (Path(tempfile.gettempdir()) / "posteo_fuzz_failure.mrk.json").write_bytes(raw)
                raise
    return counts


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    result = long_fuzz(secs)
    print(f"{sum(result.values())} inputs in {secs:g} s: {result['ok']} loaded, {result['error']} PosteoInputError")
