"""The web planner's actions: every one is a call on the Lib's ``PlanningSession`` followed by a refresh of the
page's tables.  No planning logic lives here.  Errors never reach the browser as a dead page: they are shown in
the page's banner (``PlannerState.error``).  Coordinates from the views are RAS (Slicer's scene) and are converted
to LPS before they reach the session."""

from __future__ import annotations

import asyncio
import base64
import functools
import tempfile
import time
from pathlib import Path

import numpy as np
from trame_server.utils.typed_state import TypedState

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.fileio.scene import prepare_scene
from PercutaneousOsteosynthesisLib.geometry.frames import ras_to_lps
from PercutaneousOsteosynthesisLib.session import PlanningSession, tables

from . import views
from .placement import Placement
from .rows import coloured_rows, plain_rows
from .state import PlannerState
from .tasks import BackgroundSteps


def shown(action):
    """Run a page action; an error becomes the page's red banner (the state is pushed either way).  Returns None:
    what a trigger returns is sent to the browser, which takes JSON only."""

    @functools.wraps(action)
    def wrapper(self, *args, **kwargs):
        with self.state:
            try:
                self.data.error = ""
                action(self, *args, **kwargs)
            except Exception as exc:  # any failure is shown, never a dead page
                self.show_error(exc)

    return wrapper


class Planner:
    """The page's logic on one trame server and one trame-slicer ``SlicerApp``."""

    def __init__(self, server, slicer_app, out_dir):
        self.server, self.slicer_app = server, slicer_app
        self.state = server.state
        self.typed = TypedState(self.state, PlannerState, namespace="po")
        self.data = self.typed.data
        self.scene = prepare_scene(slicer_app.scene)
        self.session = PlanningSession(self.scene, name="web plan")
        self.session.update_callbacks.append(self._on_live_update)
        self.placement = Placement(self.scene, slicer_app.markups_logic, self._on_placed,
                                   defer=lambda fn: asyncio.get_running_loop().call_soon(fn))
        self.steps = BackgroundSteps(self.state, self.data, self.show_error)
        self.bone_nodes = []  # views.show_bone's outline and surface
        self.data.out_dir = str(Path(out_dir).resolve())
        self.data.screw_columns, self.data.guidance_columns = list(tables.SCREW_COLUMNS), list(tables.GUIDANCE_COLUMNS)
        self.data.lesion_columns = list(tables.LESION_COLUMNS[:-1])
        self.data.cement_columns, self.data.corridor_columns = list(tables.CEMENT_COLUMNS), list(tables.CORRIDOR_COLUMNS)
        self.data.margin_mm = self.session.margin_mm
        views.observe_cursor(self.scene, self._on_cursor)

    # ------------------------------------------------------------------------------------------------ messages
    def show_error(self, exc) -> None:
        text = str(exc) if isinstance(exc, PosteoInputError) else f"{type(exc).__name__}: {exc}"
        with self.state:
            self.data.error = text
            self.data.status = "Error: see the message above."

    def _say(self, text: str) -> None:
        self.data.status = text

    # ------------------------------------------------------------------------------------------------ CT
    async def load_phantom(self, **phantom_options) -> None:
        """Render the built-in CT phantom (``phantom.ct.make_phantom`` options) and use it as the plan's CT."""
        from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

        def work(progress):
            return make_phantom(progress=progress, **phantom_options)

        def then(result):
            ct, truth = result
            with self.state:
                self._use_ct(ct, "PelvisPhantom", truth)
            return ct

        await self.steps.run("Rendering the CT phantom", work, then)

    async def load_ct_path(self, path) -> None:
        """Read a CT file (refused with the reason when it is not a usable CT) and use it as the plan's CT."""
        from PercutaneousOsteosynthesisLib.fileio.volume import read_ct

        def then(ct):
            with self.state:
                self._use_ct(ct, _ct_name(path))
            return ct

        await self.steps.run(f"Reading {Path(path).name}", lambda progress: read_ct(path), then)

    async def load_ct_upload(self, files) -> None:
        """A CT file sent by the browser (trame file dicts): written to a temporary folder under its own name."""
        files = [f for f in (files or []) if isinstance(f, dict) and f.get("content") is not None]
        if not files:
            self.show_error(PosteoInputError("upload", "no file was received"))
            return
        with tempfile.TemporaryDirectory(prefix="posteo-upload-") as tmp:
            path = _write_upload(files[0], tmp)
            await self.load_ct_path(path)

    @shown
    def open_ct(self, ct, name: str | None = None) -> None:
        """Use a ``CTVolume`` already read (``posteo serve CT``)."""
        self._use_ct(ct, name or _ct_name(ct.source))

    def _use_ct(self, ct, name: str, truth=None) -> None:
        self.placement.cancel()
        self.session.remove()  # a new CT starts a new plan
        self.bone_nodes = []
        node = self.session.add_ct_volume(ct, name=name, truth=truth)
        views.show_ct(self.slicer_app, node)
        self.data.has_ct, self.data.has_bone = True, False
        self._refresh()
        self._say(f"CT {name}: {' x '.join(str(n) for n in ct.geometry.size)} voxels of "
                  f"{' x '.join(f'{s:.2g}' for s in ct.geometry.spacing)} mm. Next: build the bone model.")

    # ------------------------------------------------------------------------------------------------ bone
    async def build_bone(self) -> None:
        from PercutaneousOsteosynthesisLib.bone.model import build_bone_model

        if self.session.ct is None:
            self.show_error(PosteoInputError("bone model", "load a CT or the phantom first"))
            return
        ct = self.session.ct

        def work(progress):
            bone = build_bone_model(ct, progress=progress)
            progress(1.0, "surface for the 3D view")
            return bone, views.bone_surfaces_ras(bone)  # computed here rather than on the server thread

        def then(result):
            bone, surfaces = result
            with self.state:
                self.session.set_bone_model(bone)
                self.bone_nodes = views.show_bone(self.slicer_app, self.scene, surfaces, self.session.bone_node, self.bone_nodes)
                self.data.has_bone = True
                self._refresh()
                volumes = ", ".join(f"{k} {v:.0f} mL" for k, v in bone.volumes_ml().items())
                self._say(f"Bone model: {volumes}. Place a screw: click 'Place screw', then its entry and its tip in a view.")
            return bone

        await self.steps.run("Building the bone model", work, then)

    @shown
    def show_bone_in_3d(self, visible) -> None:
        self.data.bone_in_3d = bool(visible)
        views.set_visible_3d(self.bone_nodes[-1] if self.bone_nodes else None, visible)

    @shown
    def set_margin(self, value) -> None:
        self.session.margin_mm = float(value)
        self._refresh()

    # ------------------------------------------------------------------------------------------------ placing
    @shown
    def start_placing(self, kind: str) -> None:
        if self.session.bone is None:
            raise PosteoInputError(f"place {kind}", "build the bone model first")
        self.placement.start(kind)
        self.data.placing = kind
        self._say({"screw": "Click the screw's entry point, then its tip, in a slice view.",
                   "lesion": "Click inside the lesion in a slice view.",
                   "cement": "Click where the cement is injected in a slice view."}[kind])

    @shown
    def cancel_placing(self) -> None:
        self.placement.cancel()
        self.data.placing = ""
        self._say("Placing cancelled.")

    @shown
    def _on_placed(self, kind: str, node, points_lps) -> None:
        self.data.placing = ""
        outside = [p for p in points_lps if not bool(self.session.ct.geometry.contains_lps(p[None])[0])]
        if outside:
            self.scene.RemoveNode(node)
            where = ", ".join(f"({p[0]:.0f}, {p[1]:.0f}, {p[2]:.0f})" for p in outside)
            raise PosteoInputError(f"{kind} placement", f"the point clicked at {where} LPS mm lies outside the CT; click inside the image")
        if kind == "screw":
            name = self.session.add_screw_from_line(node)
            self.data.selected_screw = name
            self._say(f"{name} placed: drag its ends in a view, the grade updates as you drag.")
        else:
            self.scene.RemoveNode(node)
            if kind == "lesion":
                info = self.session.add_lesion(None, points_lps[0])
                self._say(f"{info['name']}: {info['volume_ml']:.2f} mL, {info['type']}.")
            else:
                info = self.session.add_cement(None, points_lps[0], float(self.data.cement_volume_ml))
                self._say(f"{info['name']}: {info['volume_ml']:.2f} mL of cement.")
        self._refresh()

    # ------------------------------------------------------------------------------------------------ screws
    def _on_live_update(self, name: str) -> None:
        t = time.perf_counter()
        with self.state:
            self._refresh_screws()
            self.data.updates = int(self.data.updates) + 1
            self.data.last_check_ms = round(1e3 * (time.perf_counter() - t), 1)

    @shown
    def select_screw(self, name: str) -> None:
        """The screw's row was clicked: its probe's-eye view, and the slices through its middle."""
        self.data.selected_screw = name
        self.data.suggestion_rows = []
        entry, tip = self.session.screw_points_lps(self._selected())
        views.jump_to_lps(self.scene, 0.5 * (entry + tip))
        self._refresh_probe()

    @shown
    def remove_screw(self, name: str) -> None:
        self.session.remove_screw(name)
        if self.data.selected_screw == name:
            self.data.selected_screw, self.data.probe_png = "", ""
        self._refresh()

    @shown
    def suggest(self) -> None:
        name = self._selected()
        found = self.session.suggest(name)
        self.data.suggestion_rows = [{"index": i, "text": f"{s['implant_id']}: min clearance {s['min_clearance_mm']:.1f} mm, "
                                      f"{s['grade']}, entry moved {s['entry_shift_mm']:.1f} mm, {s['angle_deg']:.1f} deg"}
                                     for i, s in enumerate(found)]
        self._say(f"{len(found)} safer trajectories near {name}." if found else f"No safer trajectory near {name}.")

    @shown
    def accept_suggestion(self, index) -> None:
        name = self._selected()
        self.session.accept_suggestion(name, int(index))
        self.data.suggestion_rows = []
        self._refresh()
        self._refresh_probe()

    def _selected(self) -> str:
        name = self.data.selected_screw
        if not name or name not in self.session.screw_names():
            raise PosteoInputError("screw", "select a screw in the table first")
        return name

    # ------------------------------------------------------------------------------------------------ corridors
    async def find_corridors(self) -> None:
        if self.session.bone is None:
            self.show_error(PosteoInputError("corridors", "build the bone model first"))
            return

        def then(found):
            with self.state:
                self._refresh()
                self._say(f"{sum(c.found for c in found)} of {len(found)} corridors take a screw.")
            return found

        await self.steps.run("Searching the corridors", lambda progress: self.session.find_corridors(progress=progress), then)

    @shown
    def accept_corridor(self, label: str) -> None:
        name = self.session.accept_corridor(label)
        self._refresh()
        self.select_screw(name)

    # ------------------------------------------------------------------------------------------------ files
    @shown
    def save(self) -> None:
        """Write the plan bundle (plan.mrk.json, report.json, report.html, ...) to the output folder."""
        files = self.session.export(self.data.out_dir)
        self.data.plan_json = Path(files["plan"]).read_text(encoding="utf-8")
        self.data.saved_text = "Saved: " + ", ".join(str(p) for p in files.values())
        self._say(f"Plan saved in {self.data.out_dir}.")
        return files

    @shown
    def open_plan_path(self, path) -> None:
        names = self.session.import_plan(path, observe=True)
        self._refresh()
        self._say(f"Opened {Path(path).name}: {len(names)} screws.")
        return names

    def open_plan_upload(self, files) -> None:
        files = [f for f in (files or []) if isinstance(f, dict) and f.get("content") is not None]
        if not files:
            self.show_error(PosteoInputError("upload", "no plan file was received"))
            return
        with tempfile.TemporaryDirectory(prefix="posteo-plan-") as tmp:
            self.open_plan_path(_write_upload(files[0], tmp))

    # ------------------------------------------------------------------------------------------------ tables
    def _refresh(self) -> None:
        self._refresh_screws()
        self.data.lesion_rows = plain_rows([r["cells"] for r in tables.lesion_rows(self.session)])
        self.data.cement_rows = plain_rows(tables.cement_rows(self.session))
        self.data.corridor_rows = coloured_rows(tables.corridor_rows(self.session), grade_column=tables.CORRIDOR_GRADE_COLUMN)
        if self.data.selected_screw not in self.data.screw_names:
            self.data.selected_screw, self.data.probe_png = "", ""

    def _refresh_screws(self) -> None:
        if self.session.bone is None:
            self.data.screw_rows, self.data.guidance_rows, self.data.screw_names = [], [], []
            return
        guidance = tables.guidance_by_name(self.session)  # once per refresh (every live update) for both tables
        self.data.screw_rows = coloured_rows(tables.screw_rows(self.session, guidance), grade_column=tables.SCREW_GRADE_COLUMN)
        self.data.guidance_rows = plain_rows(tables.guidance_rows(self.session, guidance))
        self.data.screw_names = self.session.screw_names()

    def _refresh_probe(self) -> None:
        from PercutaneousOsteosynthesisLib.report.probe_view import probe_figure_png, probe_views

        name = self._selected()
        views_ = probe_views(self.session.ct, self.session.screw(name), self.session.bone, self.session.grade(name))
        png = probe_figure_png(views_, title=name)
        self.data.probe_png = "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    def _on_cursor(self, position_ras) -> None:
        """The data probe: LPS position and HU under the mouse (RAS from the crosshair node)."""
        ct = self.session.ct
        if ct is None or position_ras is None:
            return
        lps = ras_to_lps(position_ras)
        ijk = np.round(ct.geometry.lps_to_ijk(lps[None])[0]).astype(int)
        inside = all(0 <= ijk[a] < ct.geometry.size[a] for a in range(3))
        hu = f"{float(ct.array[ijk[2], ijk[1], ijk[0]]):.0f} HU" if inside else "outside the CT"
        text = f"LPS ({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm · {hu}"
        if text != self.data.cursor_text:
            with self.state:
                self.data.cursor_text = text


def _ct_name(path) -> str:
    """The name a CT file's volume gets: its base name without extensions (``pelvis.nii.gz`` -> ``pelvis``)."""
    return Path(str(path)).name.split(".")[0] or "CT"


def _write_upload(file: dict, folder) -> Path:
    """The browser's file (a trame upload dict) written under its own base name in ``folder``."""
    name = Path(str(file.get("name") or "upload")).name
    content = file["content"]
    if isinstance(content, list):  # large files arrive in chunks
        content = b"".join(content)
    path = Path(folder) / name
    path.write_bytes(content)
    return path
