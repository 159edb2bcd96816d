"""Static checks of the Slicer module, runnable without Slicer (no qt/ctk here).

The module file cannot be imported outside Slicer, so it is inspected with ``ast``; the .ui is parsed as XML.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = MODULE_DIR.parent
MODULE_NAME = "PercutaneousOsteosynthesis"
MODULE_FILE = MODULE_DIR / f"{MODULE_NAME}.py"
UI_FILE = MODULE_DIR / "Resources" / "UI" / f"{MODULE_NAME}.ui"
LIB_DIR = MODULE_DIR / f"{MODULE_NAME}Lib"
WIDGETS_DIR = MODULE_DIR / f"{MODULE_NAME}Widgets"
MODULE_CMAKE = MODULE_DIR / "CMakeLists.txt"
PARAMETER_CLASS = f"{MODULE_NAME}ParameterNode"
RESOURCE_PATTERNS = {"Icons": "*.png", "UI": "*.ui", "Implants": "*.json"}

# Widget classes the parameterNodeWrapper can bind to each field type.
FLOAT_WIDGETS = {"ctkSliderWidget", "QDoubleSpinBox", "ctkDoubleSpinBox", "qMRMLSpinBox", "qMRMLSliderWidget", "ctkDoubleSlider"}
NODE_WIDGETS = {"qMRMLNodeComboBox"}
STR_WIDGETS = {"QComboBox", "ctkComboBox", "QLineEdit"}

FORBIDDEN_LIB_IMPORTS = {"qt", "ctk", "slicer.util", "slicer.ScriptedLoadableModule", "slicer.parameterNodeWrapper",
                         "slicer.i18n", "__main__"}
FORBIDDEN_SLICER_ATTRIBUTES = {"mrmlScene", "app", "modules", "util"}


# ---------------------------------------------------------------------------- helpers


def module_tree() -> ast.Module:
    return ast.parse(MODULE_FILE.read_text(encoding="utf-8"), filename=str(MODULE_FILE))


def ui_root() -> ET.Element:
    return ET.parse(UI_FILE).getroot()


def ui_widgets() -> dict[str, ET.Element]:
    widgets = {}
    for w in ui_root().iter("widget"):
        name = w.get("name")
        assert name not in widgets, f"widget name {name!r} used twice in {UI_FILE.name}"
        widgets[name] = w
    return widgets


def ui_parameter_widgets() -> dict[str, ET.Element]:
    """SlicerParameterName -> widget element."""
    out = {}
    for w in ui_widgets().values():
        for p in w.findall("property"):
            if p.get("name") == "SlicerParameterName":
                out[p.findtext("string")] = w
    return out


def widget_property(widget: ET.Element, name: str):
    for p in widget.findall("property"):
        if p.get("name") == name:
            child = list(p)[0]
            return child.text
    return None


def parameter_fields() -> dict[str, ast.AnnAssign]:
    for node in module_tree().body:
        if isinstance(node, ast.ClassDef) and node.name == PARAMETER_CLASS:
            decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", None) for d in node.decorator_list}
            assert "parameterNodeWrapper" in decorators
            return {s.target.id: s for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    raise AssertionError(f"class {PARAMETER_CLASS} not found in {MODULE_FILE.name}")


def base_type(annotation: ast.expr) -> str:
    """``float`` for ``float`` and ``Annotated[float, ...]``; the class name for node types."""
    if isinstance(annotation, ast.Subscript) and getattr(annotation.value, "id", None) == "Annotated":
        return base_type(annotation.slice.elts[0])
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    return annotation.id


def module_constant(name: str):
    for node in module_tree().body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"module-level constant {name} not found in {MODULE_FILE.name}")


def cmake_list(variable: str) -> set[str]:
    text = MODULE_CMAKE.read_text(encoding="utf-8")
    name = re.search(r"set\(\s*MODULE_NAME\s+(\S+?)\s*\)", text).group(1)
    m = re.search(r"set\(\s*" + re.escape(variable) + r"\s+(.*?)\)", text, re.S)
    assert m, f"set({variable} ...) not found in {MODULE_CMAKE}"
    items = [line.split("#", 1)[0].strip() for line in m.group(1).splitlines()]
    return {item.replace("${MODULE_NAME}", name) for item in items if item}


def lib_files() -> list[Path]:
    return sorted(LIB_DIR.rglob("*.py"))


def widget_helper_files() -> list[Path]:
    """The panel's Qt/Slicer helpers (PercutaneousOsteosynthesisWidgets): GUI code, but no planning logic."""
    return sorted(WIDGETS_DIR.rglob("*.py"))


# ---------------------------------------------------------------------------- the .ui


def test_ui_parses_as_designer_file():
    root = ui_root()
    assert root.tag == "ui"
    assert root.findtext("class") == MODULE_NAME
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == MODULE_NAME
    assert len(ui_widgets()) > 10


def test_ui_sections_are_collapsible_buttons():
    titles = [widget_property(w, "text") for w in ui_widgets().values() if w.get("class") == "ctkCollapsibleButton"]
    assert titles == ["CT and bone", "Screws", "Corridors", "Lesions", "Probe's-eye view", "Cement", "Plan"]


def test_node_selectors_get_the_scene():
    """Every MRML widget is connected to the top widget's mrmlSceneChanged signal (so setMRMLScene reaches it)."""
    receivers = {c.findtext("receiver") for c in ui_root().iter("connection")
                 if c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)" and c.findtext("sender") == MODULE_NAME}
    mrml = {n for n, w in ui_widgets().items() if w.get("class", "").startswith("qMRML") and n != MODULE_NAME}
    assert mrml <= receivers


def test_ui_names_used_by_module_exist():
    used = set()
    for node in ast.walk(module_tree()):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui"
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"):
            used.add(node.attr)
    assert used, "the module does not use self.ui"
    missing = used - set(ui_widgets())
    assert not missing, f"used in {MODULE_FILE.name} but not in {UI_FILE.name}: {sorted(missing)}"


# ---------------------------------------------------------------------------- parameter node


def test_slicer_parameter_names_match_parameter_node_fields():
    fields = set(parameter_fields())
    in_ui = set(ui_parameter_widgets())
    non_gui = set(module_constant("NON_GUI_PARAMETERS"))
    assert in_ui - fields == set(), f"SlicerParameterName without a field: {sorted(in_ui - fields)}"
    assert fields - in_ui - non_gui == set(), f"fields without a widget (and not in NON_GUI_PARAMETERS): {sorted(fields - in_ui - non_gui)}"
    assert non_gui <= fields
    assert not (non_gui & in_ui), "a NON_GUI_PARAMETERS field has a widget"


def test_parameter_widget_types_and_defaults_agree():
    fields = parameter_fields()
    for name, widget in ui_parameter_widgets().items():
        kind = base_type(fields[name].annotation)
        cls = widget.get("class")
        if kind == "float":
            assert cls in FLOAT_WIDGETS, (name, cls)
            default = ast.literal_eval(fields[name].value)
            assert float(widget_property(widget, "value")) == pytest.approx(default), name
        elif kind == "str":
            assert cls in STR_WIDGETS, (name, cls)
            assert isinstance(ast.literal_eval(fields[name].value), str), name
        elif kind.startswith("vtkMRML"):
            assert cls in NODE_WIDGETS, (name, cls)
            assert widget.find("property[@name='nodeTypes']/stringlist/string").text == kind
        else:
            raise AssertionError(f"no check for parameter {name} of type {kind}")


def test_parameter_node_fields_and_defaults():
    fields = parameter_fields()
    expected = {"inputVolume": None, "boneThresholdHU": 200, "cortexThresholdHU": 600, "metalThresholdHU": 2500,
                "safetyMarginMm": 1.0, "cementVolumeMl": 5.0, "boneSegmentation": None}
    for name, default in expected.items():
        assert name in fields, name
        if default is not None:
            assert base_type(fields[name].annotation) == "float"
            assert ast.literal_eval(fields[name].value) == pytest.approx(default), name


# ---------------------------------------------------------------------------- CMake lists


def test_module_cmake_lists_every_lib_file():
    listed = cmake_list("MODULE_PYTHON_SCRIPTS")
    assert f"{MODULE_NAME}.py" in listed
    on_disk = {p.relative_to(MODULE_DIR).as_posix() for p in lib_files() + widget_helper_files()}
    assert on_disk - listed == set(), f"add to MODULE_PYTHON_SCRIPTS: {sorted(on_disk - listed)}"
    stale = {f for f in listed if not (MODULE_DIR / f).is_file()}
    assert not stale, f"listed in MODULE_PYTHON_SCRIPTS but missing: {sorted(stale)}"


def test_module_cmake_lists_every_resource():
    listed = cmake_list("MODULE_PYTHON_RESOURCES")
    on_disk = {f"Resources/{sub}/{p.name}" for sub, pattern in RESOURCE_PATTERNS.items()
               for p in (MODULE_DIR / "Resources" / sub).glob(pattern)}
    assert f"Resources/Icons/{MODULE_NAME}.png" in on_disk
    assert f"Resources/UI/{MODULE_NAME}.ui" in on_disk
    assert on_disk - listed == set(), f"add to MODULE_PYTHON_RESOURCES: {sorted(on_disk - listed)}"
    stale = {f for f in listed if not (MODULE_DIR / f).is_file()}
    assert not stale, f"listed in MODULE_PYTHON_RESOURCES but missing: {sorted(stale)}"


def test_module_cmake_builds_scripted_module_with_self_test():
    text = MODULE_CMAKE.read_text(encoding="utf-8")
    assert "slicerMacroBuildScriptedModule" in text and "WITH_GENERIC_TESTS" in text
    assert re.search(r"if\(BUILD_TESTING\).*slicer_add_python_unittest\(SCRIPT \$\{MODULE_NAME\}\.py\)", text, re.S)


def test_extension_cmake_metadata():
    text = (REPO_ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    for key in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        assert re.search(r"set\(" + key + r" \"[^\"]+\"\)", text), key
    assert f"add_subdirectory({MODULE_NAME})" in text
    icon_url = re.search(r"set\(EXTENSION_ICONURL \"([^\"]+)\"\)", text).group(1)
    assert icon_url.endswith(f"{MODULE_NAME}/Resources/Icons/{MODULE_NAME}.png")


def test_icon_is_a_128_pixel_png():
    data = (MODULE_DIR / "Resources" / "Icons" / f"{MODULE_NAME}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (128, 128)


# ---------------------------------------------------------------------------- Python sources


def python_sources() -> list[Path]:
    return [MODULE_FILE, *lib_files(), *widget_helper_files()]


@pytest.mark.parametrize("path", python_sources(), ids=lambda p: p.relative_to(MODULE_DIR).as_posix())
def test_sources_compile(path):
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")
    ast.parse(source, filename=str(path), feature_version=(3, 11))


def imported_modules(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


@pytest.mark.parametrize("path", lib_files(), ids=lambda p: p.relative_to(MODULE_DIR).as_posix())
def test_lib_is_gui_free(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for name, line in imported_modules(tree):
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_LIB_IMPORTS):
            problems.append(f"line {line}: imports {name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_SLICER_ATTRIBUTES
                and isinstance(node.value, ast.Name) and node.value.id == "slicer"):
            problems.append(f"line {node.lineno}: uses slicer.{node.attr}")
    assert not problems, f"{path.name} must stay GUI-free and scene-agnostic: " + "; ".join(problems)


def test_module_uses_slicer_scene_only_in_module_file():
    """The Logic takes a scene; slicer.mrmlScene appears in the module file (fallback, widget, tests) only."""
    tree = module_tree()
    logic = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f"{MODULE_NAME}Logic")
    init = next(n for n in logic.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    args = [a.arg for a in init.args.args]
    assert args[:2] == ["self", "scene"] and init.args.defaults and getattr(init.args.defaults[0], "value", 0) is None
    uses = [n for n in ast.walk(logic) if isinstance(n, ast.Attribute) and n.attr == "mrmlScene"]
    assert len(uses) == 1, "the Logic should reach slicer.mrmlScene only through its scene property"


def test_module_imports_lib_lazily():
    """Top-level imports of the Lib would break loading the module while a Lib module is missing or broken."""
    for node in module_tree().body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert not any(n.startswith(f"{MODULE_NAME}Lib") for n in names), ast.dump(node)
