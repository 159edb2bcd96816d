"""The Lib's shape, checked from its source: no import cycles (between modules or between subpackages), small
files, every third-party import declared in pyproject.toml, and a scripting facade whose names all resolve."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LIB = REPO / "PercutaneousOsteosynthesis" / "PercutaneousOsteosynthesisLib"
WEB = REPO / "PercutaneousOsteosynthesis" / "PercutaneousOsteosynthesisWeb"
PKG = LIB.name
MAX_LIB_LINES = 400

# import name -> distribution name in pyproject.toml (where they differ)
DISTRIBUTIONS = {"vtkmodules": "vtk", "slicer": "slicer-core", "fpdf": "fpdf2", "PIL": "Pillow", "SimpleITK": "SimpleITK"}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in LIB.rglob("*.py"):
        parts = [PKG, *path.relative_to(LIB).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


MODULES = _modules()


def _imported(module: str, is_package: bool, node: ast.AST) -> list[str]:
    """Fully qualified names of the Lib modules an import statement reaches (function-level imports included)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = []
    for alias in node.names:
        for candidate in (f"{target}.{alias.name}", target):
            if candidate in MODULES:
                found.append(candidate)
                break
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {t for node in ast.walk(tree) for t in _imported(module, is_package, node) if t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in list(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles inside the Lib: {cycles}"


def test_no_import_cycle_between_subpackages():
    graph: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        a = ".".join(module.split(".")[:2])
        graph.setdefault(a, set()).update(b for b in (".".join(d.split(".")[:2]) for d in deps) if b != a and b != PKG)
    cycles = _cycles(graph)
    assert not cycles, f"subpackages that import each other: {cycles}"


def test_lib_is_in_subpackages():
    top = sorted(p.name for p in LIB.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "errors.py", "palette.py"], top
    for sub in (p for p in LIB.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert (sub / "__init__.py").is_file(), f"{sub} has no __init__.py"


@pytest.mark.parametrize("path", sorted(LIB.rglob("*.py")) + sorted(WEB.rglob("*.py")),
                         ids=lambda p: p.relative_to(LIB.parent).as_posix())
def test_lib_files_are_small(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LIB_LINES, f"{path.relative_to(LIB.parent)} has {n} lines (at most {MAX_LIB_LINES}): split it by concept"


def _top_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_the_lib_never_imports_a_front_end():
    """The core stays GUI-free: no Qt, no trame, no web package (``posteo serve`` loads it by name, lazily)."""
    front_ends = {"qt", "ctk", "trame", "trame_slicer", "trame_server", "trame_vuetify", "PercutaneousOsteosynthesisWeb"}
    found = {p.relative_to(LIB).as_posix(): sorted(_top_imports(p) & front_ends) for p in LIB.rglob("*.py")}
    assert not {k: v for k, v in found.items() if v}


def test_the_web_package_holds_no_planning_logic():
    """The web planner calls the Lib's session; it never imports the Lib's computing packages directly, except to
    read a file or render the phantom on a worker thread."""
    allowed = {"errors", "palette", "session", "fileio", "report", "geometry", "phantom", "bone"}
    for path in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PKG + "."):
                sub = node.module.split(".")[1]
                assert sub in allowed, f"{path.name} imports {node.module}: planning logic belongs in the Lib's session"


def _declared() -> set[str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    names = re.findall(r'^\s*"([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;].*)?",?\s*$', text, flags=re.M)
    return {n.lower() for n in names}


def test_every_third_party_import_is_declared():
    stdlib = set(sys.stdlib_module_names)
    declared = _declared()
    missing = {}
    for path, _ in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in ("", PKG, "__future__"):
                    continue
                dist = DISTRIBUTIONS.get(top, top).lower()
                if dist not in declared and not dist.startswith("trame"):
                    missing.setdefault(dist, path.relative_to(LIB).as_posix())
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_facade_names_resolve():
    import PercutaneousOsteosynthesisLib as lib

    for name in lib.__all__:
        assert getattr(lib, name) is not None, name
    assert lib.PlanningSession.__module__.startswith(f"{PKG}.session")
    with pytest.raises(AttributeError):
        lib.no_such_name  # noqa: B018


def test_version_defined_once():
    import PercutaneousOsteosynthesisLib as lib

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text and f"{PKG}.__version__" in text
    assert re.fullmatch(r"\d+\.\d+\.\d+", lib.__version__)


MAX_MODULE_LINES = 600


def test_module_file_stays_at_template_size():
    module = REPO / "PercutaneousOsteosynthesis" / "PercutaneousOsteosynthesis.py"
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module.name} has {lines} lines: move Qt helpers to PercutaneousOsteosynthesisWidgets, logic to the Lib"


def test_ruff_is_clean():
    """The lint configured in pyproject.toml ([tool.ruff]) passes on the whole repository."""
    import subprocess

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
