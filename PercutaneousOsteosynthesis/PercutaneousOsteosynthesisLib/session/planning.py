"""A planning session whose state lives in MRML nodes under one subject-hierarchy folder (a given scene).

``PlanningSession(scene)`` creates a folder in the scene's subject hierarchy; every node it creates goes in it:
the phantom CT, the bone-model segmentation, one ``vtkMRMLMarkupsLineNode`` per screw (control points
"entry" and "tip") with its ``vtkMRMLModelNode`` (tied by node references both ways), the point lists of
lesion seeds and cement injections and a "plan segments" segmentation (lesions, cement).  Screw
parameters (implant, diameter, thread, washer) and the last check (grade, min clearance) are node
attributes, so the plan can be rebuilt from the scene alone (:meth:`PlanningSession.plan`).

The API takes and returns LPS mm (``*_lps``); the scene is RAS (``geometry.lps_to_ras``).  The bone model,
CT arrays, segmented lesions and simulated cement are cached Python objects (derived data, not state).

Live feedback (:meth:`PlanningSession.observe_screw`): moving a control point re-checks the screw and
updates its model and colour; updates closer than ``throttle_ms`` to the end of the previous one are
deferred, and the last deferred state is processed on ``PointEndInteractionEvent`` or by :meth:`flush`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from ..errors import PosteoInputError
from ..geometry.frames import lps_to_ras, ras_to_lps
from ..palette import CEMENT_RGB, grade_rgb, lesion_rgb

FOLDER_NAME = "Percutaneous osteosynthesis plan"
PREFIX = "PercutaneousOsteosynthesis."
ROLE = PREFIX + "Role"
SCREW_NAME = PREFIX + "ScrewName"
MODEL_REFERENCE = PREFIX + "ScrewModel"
LINE_REFERENCE = PREFIX + "ScrewLine"
DEFAULT_DIAMETER_MM = 7.3
PLAN_SEGMENTS_NAME = "Plan segments"
LESIONS_NAME = "Lesion seeds"
CEMENT_NAME = "Cement injections"


def _vector(node, i) -> np.ndarray:
    p = [0.0, 0.0, 0.0]
    node.GetNthControlPointPositionWorld(i, p)
    return np.array(p, float)


class PlanningSession:
    """A plan on one CT, stored in ``scene`` (a ``vtkMRMLScene``; use ``mrml.prepare_scene`` outside Slicer)."""

    throttle_ms = 30.0

    def __init__(self, scene, name: str = "plan", margin_mm: float = 1.0, catalog=None, folder_name: str = FOLDER_NAME,
                 folder_item_id: int = 0):
        import slicer

        self.scene = scene
        self.name = str(name)
        self.folder_name = folder_name
        self._catalog = catalog
        self._folder = int(folder_item_id)
        self.ct = None  # CTVolume (LPS)
        self.ct_node = None
        self.truth = None  # phantom truth after load_phantom()
        self.bone = None  # BoneModel
        self.bone_node = None
        self.lesions: dict = {}  # name -> lesions.Lesion
        self.cement: dict = {}  # name -> cement.CementResult
        self.suggestions: dict = {}  # screw name -> [suggest.Suggestion]
        self._observed: dict = {}  # screw name -> (line node, [observer tags])
        self._pending: set = set()
        self.update_callbacks: list = []  # callables(name) run after each live update (e.g. to refresh a table)
        self._last_update_end = -1e9
        self._suspend = False
        self._scene_tags = [scene.AddObserver(slicer.vtkMRMLScene.StartCloseEvent, self._on_scene_close),
                            scene.AddObserver(slicer.vtkMRMLScene.NodeAboutToBeRemovedEvent, self._on_node_removed)]
        self.margin_mm = margin_mm

    # ------------------------------------------------------------------------------------------ folder

    @property
    def catalog(self):
        if self._catalog is None:
            from ..screws.implants import default_catalog

            self._catalog = default_catalog()
        return self._catalog

    @property
    def _sh(self):
        import slicer

        return slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)

    @property
    def folder_item_id(self) -> int:
        """The subject hierarchy folder of the session (created on first use, again after a scene close)."""
        sh = self._sh
        if self._folder:
            children = vtk.vtkIdList()
            sh.GetItemChildren(sh.GetSceneItemID(), children, True)
            if children.IsId(self._folder) < 0:
                self._folder = 0
        if not self._folder:
            self._folder = sh.CreateFolderItem(sh.GetSceneItemID(), self.folder_name)
            sh.SetItemAttribute(self._folder, PREFIX + "MarginMm", repr(float(self._margin)))
        return self._folder

    @property
    def margin_mm(self) -> float:
        return self._margin

    @margin_mm.setter
    def margin_mm(self, value) -> None:
        v = float(value)
        if not (np.isfinite(v) and v >= 0):
            raise PosteoInputError(f"margin {value}", "must be a finite number of mm >= 0")
        self._margin = v
        if self._folder:
            self._sh.SetItemAttribute(self._folder, PREFIX + "MarginMm", repr(v))

    def _adopt(self, node, role: str):
        """Put ``node`` in the session's folder and tag its role."""
        node.SetAttribute(ROLE, role)
        sh = self._sh
        item = sh.GetItemByDataNode(node)
        if item:
            sh.SetItemParent(item, self.folder_item_id)
        else:
            sh.CreateItem(self.folder_item_id, node)
        return node

    def _new_node(self, cls: str, name: str, role: str):
        node = self.scene.AddNewNodeByClass(cls, name)
        return self._adopt(node, role)

    def nodes(self) -> list:
        """The data nodes in the session's folder (recursively)."""
        if not self._folder:
            return []
        sh = self._sh
        ids = vtk.vtkIdList()
        sh.GetItemChildren(self.folder_item_id, ids, True)
        out = []
        for k in range(ids.GetNumberOfIds()):
            node = sh.GetItemDataNode(ids.GetId(k))
            if node is not None:
                out.append(node)
        return out

    def _nodes_with_role(self, role: str) -> list:
        return [n for n in self.nodes() if n.GetAttribute(ROLE) == role]

    def _remove_nodes(self, nodes) -> None:
        """Remove data nodes with their display and storage nodes."""
        doomed = []
        for node in nodes:
            for getter in ("GetNumberOfDisplayNodes", "GetNumberOfStorageNodes"):
                if hasattr(node, getter):
                    n = getattr(node, getter)()
                    nth = node.GetNthDisplayNode if "Display" in getter else node.GetNthStorageNode
                    doomed += [nth(i) for i in range(n) if nth(i) is not None]
            doomed.append(node)
        for node in doomed:
            if node.GetScene() is self.scene:
                self.scene.RemoveNode(node)

    def remove(self) -> None:
        """Delete the session's folder and every node in it; stop observing."""
        self._stop_observing()
        if self._folder:
            self._remove_nodes(self.nodes())
            if self._item_exists(self._folder):
                self._sh.RemoveItem(self._folder, True, True)
        self._folder = 0
        self._reset()

    def close(self) -> None:
        """Stop observing the scene and the screws (the nodes stay)."""
        for name in list(self._observed):
            self.unobserve_screw(name)
        for tag in self._scene_tags:
            self.scene.RemoveObserver(tag)
        self._scene_tags = []

    def _stop_observing(self) -> None:
        for name in list(self._observed):
            self.unobserve_screw(name)

    def _item_exists(self, item) -> bool:
        sh = self._sh
        ids = vtk.vtkIdList()
        sh.GetItemChildren(sh.GetSceneItemID(), ids, True)
        return ids.IsId(item) >= 0

    def _reset(self) -> None:
        self.ct = self.ct_node = self.truth = self.bone = self.bone_node = None
        self.lesions, self.cement, self.suggestions = {}, {}, {}
        self._pending = set()

    def _on_scene_close(self, caller=None, event=None) -> None:
        self._stop_observing()
        self._folder = 0
        self._reset()

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _on_node_removed(self, caller, event, node=None) -> None:
        """Stop observing a screw line node that leaves the scene."""
        for name, (observed, _) in list(self._observed.items()):
            if observed is node:
                self.unobserve_screw(name)

    # -------------------------------------------------------------------------------------- CT and bone

    def set_ct(self, volume_node):
        """Use ``volume_node`` (a scalar volume in HU) as the plan's CT; the bone model is dropped."""
        from ..fileio.nodes import ct_volume_from_node

        self.ct = ct_volume_from_node(volume_node)
        self.ct_node = volume_node
        self.bone = None
        return self.ct

    def load_phantom(self, progress=None, name: str = "PelvisPhantom", **kwargs):
        """Render the synthetic phantom into a new volume node of the folder; returns the node (truth in ``self.truth``)."""
        from ..fileio.nodes import volume_node_from_ct
        from ..phantom.ct import make_phantom

        ct, truth = make_phantom(progress=progress, **kwargs)
        node = self._adopt(volume_node_from_ct(ct, self.scene, name=name), "phantomCt")
        self.ct, self.ct_node, self.truth, self.bone = ct, node, truth, None
        return node

    def build_bone_model(self, params=None, progress=None):
        """Build the bone model of the CT and its segmentation node (replacing the session's previous one)."""
        from ..bone.model import build_bone_model

        self._require_ct()
        return self.set_bone_model(build_bone_model(self.ct, params, progress=progress))

    def set_bone_model(self, bone, segmentation_node=None):
        """Use an already built bone model of the session's CT, shown by ``segmentation_node`` (default: a new
        segmentation node of the folder replacing the session's previous one)."""
        from ..bone.outputs import segmentation_node_from_bone_model
        from ..lesions.segmentation import ct_on_bone_grid

        self._require_ct()
        ct_on_bone_grid(self.ct, bone)  # raises unless the bone model's grid is a crop of the CT's
        self.bone = bone
        previous = [n for n in self._nodes_with_role("boneModel") if n is not segmentation_node]
        if segmentation_node is None:
            name = f"{self.ct_node.GetName() if self.ct_node is not None else 'CT'} bone model"
            segmentation_node = segmentation_node_from_bone_model(bone, self.scene, name=name)
        self.bone_node = self._adopt(segmentation_node, "boneModel")
        self._remove_nodes(previous)
        for name in self.screw_names():
            self.update_screw(name)
        return bone

    def _require_ct(self):
        if self.ct is None:
            raise PosteoInputError("planning session", "no CT: call set_ct(volume_node) or load_phantom() first")

    def _require_bone(self):
        self._require_ct()
        if self.bone is None:
            raise PosteoInputError("planning session", "no bone model: call build_bone_model() first")

    # ------------------------------------------------------------------------------------------- screws

    def screw_line_nodes(self) -> list:
        return self._nodes_with_role("screw")

    def screw_names(self) -> list[str]:
        return [n.GetAttribute(SCREW_NAME) for n in self.screw_line_nodes()]

    def line_node(self, name: str):
        for n in self.screw_line_nodes():
            if n.GetAttribute(SCREW_NAME) == name:
                return n
        raise PosteoInputError(f"screw '{name}'", f"no such screw in the plan ({', '.join(self.screw_names()) or 'none'})")

    def model_node(self, name: str):
        return self.line_node(name).GetNodeReference(MODEL_REFERENCE)

    def screw_points_lps(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(entry, tip) of the screw in LPS mm, read from the line node's RAS control points."""
        node = self.line_node(name)
        return ras_to_lps(_vector(node, 0)), ras_to_lps(_vector(node, 1))

    def screw(self, name: str):
        """The :class:`screw.Screw` (LPS) of the line node ``name``."""
        from ..screws.screw import Screw

        node = self.line_node(name)
        if node.GetNumberOfControlPoints() != 2:
            raise PosteoInputError(f"screw '{name}'", f"needs 2 control points (entry, tip), has {node.GetNumberOfControlPoints()}")
        entry, tip = ras_to_lps(_vector(node, 0)), ras_to_lps(_vector(node, 1))
        thread = node.GetAttribute(PREFIX + "ThreadLengthMm")
        implant = node.GetAttribute(PREFIX + "ImplantId") or None
        return Screw(name, entry, tip, float(node.GetAttribute(PREFIX + "DiameterMm")), implant,
                     None if thread in (None, "", "full") else float(thread), node.GetAttribute(PREFIX + "Washer") == "1")

    def add_screw(self, name: str, entry_lps, tip_lps, implant_id: str | None = None, diameter_mm: float | None = None,
                  line_node=None) -> object:
        """A screw from ``entry_lps`` to ``tip_lps`` (LPS mm, kept as given): a line node ("entry", "tip") and a
        model coloured by grade.  ``implant_id``: catalog id (default: the catalog implant nearest to the drawn
        length at ``diameter_mm``, default 7.3 mm).  ``line_node``: adopt an existing line node (its points are
        replaced).  Returns the line node."""
        from ..screws.screw import Screw

        self._require_bone()
        name = str(name)
        if not name:
            raise PosteoInputError("screw name", "must not be empty")
        if name in self.screw_names():
            raise PosteoInputError(f"screw '{name}'", "a screw of that name is already in the plan")
        entry, tip = np.asarray(entry_lps, float).reshape(-1), np.asarray(tip_lps, float).reshape(-1)
        if implant_id is None:
            drawn = float(np.linalg.norm(tip - entry)) if entry.shape == tip.shape == (3,) else 0.0
            implant = self.catalog.find(DEFAULT_DIAMETER_MM if diameter_mm is None else diameter_mm, max(drawn, 1.0))
        else:
            implant = self.catalog.get(implant_id)
        screw = Screw(name, entry, tip, implant.diameter_mm, implant.id, implant.thread_length_mm)  # validates
        node = line_node if line_node is not None else self.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
        self._adopt(node, "screw")
        node.SetName(name)
        node.SetAttribute(SCREW_NAME, name)
        self._set_screw_attributes(node, screw)
        self._set_line_points(node, screw.entry_lps, screw.tip_lps)
        if node.GetDisplayNode() is None:
            node.CreateDefaultDisplayNodes()
        model = self._new_node("vtkMRMLModelNode", f"{name} model", "screwModel")
        model.CreateDefaultDisplayNodes()
        model.SetAttribute(SCREW_NAME, name)
        node.SetNodeReferenceID(MODEL_REFERENCE, model.GetID())
        model.SetNodeReferenceID(LINE_REFERENCE, node.GetID())
        self.update_screw(name)
        return node

    @staticmethod
    def _set_screw_attributes(node, screw) -> None:
        node.SetAttribute(PREFIX + "ImplantId", screw.implant_id or "")
        node.SetAttribute(PREFIX + "DiameterMm", repr(float(screw.diameter_mm)))
        node.SetAttribute(PREFIX + "ThreadLengthMm", "full" if screw.thread_length_mm is None else repr(float(screw.thread_length_mm)))
        node.SetAttribute(PREFIX + "Washer", "1" if screw.washer else "0")

    def _set_line_points(self, node, entry_lps, tip_lps) -> None:
        ras = lps_to_ras(np.array([entry_lps, tip_lps], float))
        suspend, self._suspend = self._suspend, True
        try:
            was = node.StartModify()
            node.RemoveAllControlPoints()
            node.AddControlPoint(vtk.vtkVector3d(*ras[0]), "entry")
            node.AddControlPoint(vtk.vtkVector3d(*ras[1]), "tip")
            node.EndModify(was)
        finally:
            self._suspend = suspend

    def set_screw_points(self, name: str, entry_lps, tip_lps) -> dict:
        """Move a screw (LPS mm) and re-check it; returns the check dict."""
        self._set_line_points(self.line_node(name), entry_lps, tip_lps)
        return self.update_screw(name)

    def set_implant(self, name: str, implant_id: str) -> dict:
        node = self.line_node(name)
        implant = self.catalog.get(implant_id)
        node.SetAttribute(PREFIX + "ImplantId", implant.id)
        node.SetAttribute(PREFIX + "DiameterMm", repr(float(implant.diameter_mm)))
        node.SetAttribute(PREFIX + "ThreadLengthMm", "full" if implant.thread_length_mm is None else repr(float(implant.thread_length_mm)))
        return self.update_screw(name)

    def remove_screw(self, name: str) -> None:
        node = self.line_node(name)
        self.unobserve_screw(name)
        self._pending.discard(name)
        self.suggestions.pop(name, None)
        model = node.GetNodeReference(MODEL_REFERENCE)
        self._remove_nodes([n for n in (model, node) if n is not None])

    def update_screw(self, name: str) -> dict:
        """Re-check the screw, rebuild its model (RAS) and colour it by grade; returns the check dict (no profile).

        A screw that cannot be checked (zero length, outside the CT) is coloured grey with grade "invalid"."""
        from ..screws.clearance import check_screw
        from ..screws.model import screw_polydata_lps

        self._require_bone()
        node = self.line_node(name)
        model = node.GetNodeReference(MODEL_REFERENCE)
        try:
            screw = self.screw(name)
            result = check_screw(screw, self.bone, self.margin_mm, catalog=self.catalog)
        except PosteoInputError as exc:
            node.SetAttribute(PREFIX + "Grade", "invalid")
            node.SetAttribute(PREFIX + "MinClearanceMm", "")
            self._colour(model, "invalid")
            return {"name": name, "grade": "invalid", "error": str(exc)}
        if model is not None:
            poly = screw_polydata_lps(screw, resolution=16)
            for data in (poly.GetPoints().GetData(), poly.GetPointData().GetNormals(), poly.GetCellData().GetNormals()):
                if data is not None:
                    vtk_to_numpy(data)[:, :2] *= -1.0  # LPS -> RAS (a rotation: orientation kept)
            poly.GetPoints().Modified()
            model.SetAndObservePolyData(poly)
        node.SetAttribute(PREFIX + "Grade", result.grade)
        node.SetAttribute(PREFIX + "MinClearanceMm", repr(float(result.min_clearance_mm)))
        self._colour(model, result.grade)
        return result.to_dict(profile=False)

    @staticmethod
    def _colour(model, grade: str) -> None:
        if model is None:
            return
        display = model.GetDisplayNode()
        if display is None:
            model.CreateDefaultDisplayNodes()
            display = model.GetDisplayNode()
        display.SetColor(*grade_rgb(grade))

    def grade(self, name: str) -> str:
        """The grade of the last check (node attribute)."""
        return self.line_node(name).GetAttribute(PREFIX + "Grade") or ""

    def model_colour(self, name: str) -> tuple:
        return tuple(self.model_node(name).GetDisplayNode().GetColor())

    def check(self, name: str, profile: bool = False) -> dict:
        """Full check of a screw (``ScrewCheck.to_dict``) with its clearance to metal (mm, ``None`` without metal)."""
        from ..screws.clearance import check_screws

        self._require_bone()
        self.update_screw(name)
        checks, _ = check_screws([self.screw(name)], self.bone, self.margin_mm, metal=True, catalog=self.catalog)
        return checks[0].to_dict(profile=profile)

    def check_all(self) -> dict:
        """``{"screws": {name: check dict}, "pairs": [{a, b, min_gap_mm}]}`` for every screw."""
        from ..screws.clearance import check_screws

        self._require_bone()
        screws = [self.screw(n) for n in self.screw_names()]
        checks, pairs = check_screws(screws, self.bone, self.margin_mm, metal=True, catalog=self.catalog)
        return {"screws": {c.name: c.to_dict(profile=False) for c in checks}, "pairs": pairs}

    def timed_drag_update(self, name: str) -> float:
        """Milliseconds of one live update (check + model + colour) of the screw as it stands."""
        t = time.perf_counter()
        self.update_screw(name)
        return 1e3 * (time.perf_counter() - t)

    # ---------------------------------------------------------------------------------- live feedback

    def observe_screw(self, name: str) -> None:
        """Re-check the screw whenever one of its control points moves (throttled, see module doc)."""
        import slicer

        if name in self._observed:
            return
        node = self.line_node(name)
        tags = [node.AddObserver(slicer.vtkMRMLMarkupsNode.PointModifiedEvent, self._on_point_modified),
                node.AddObserver(slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent, self._on_end_interaction)]
        self._observed[name] = (node, tags)

    def unobserve_screw(self, name: str) -> None:
        node, tags = self._observed.pop(name, (None, []))
        for tag in tags:
            node.RemoveObserver(tag)
        self._pending.discard(name)

    def observed_screws(self) -> list[str]:
        return list(self._observed)

    def _name_of(self, node) -> str | None:
        for name, (n, _) in self._observed.items():
            if n is node:
                return name
        return None

    def _on_point_modified(self, caller, event=None) -> None:
        if self._suspend:
            return
        name = self._name_of(caller)
        if name is None:
            return
        if 1e3 * (time.perf_counter() - self._last_update_end) < self.throttle_ms:
            self._pending.add(name)
            return
        self._live_update(name)

    def _on_end_interaction(self, caller, event=None) -> None:
        name = self._name_of(caller)
        if name is not None and name in self._pending:
            self._live_update(name)

    def _live_update(self, name: str) -> None:
        self._pending.discard(name)
        if self.bone is not None:
            self.update_screw(name)
        self._last_update_end = time.perf_counter()
        for callback in list(self.update_callbacks):
            callback(name)

    def pending(self) -> list[str]:
        """Screws whose last move has not been processed yet (throttled)."""
        return sorted(self._pending)

    def flush(self) -> None:
        """Process every deferred live update now."""
        for name in sorted(self._pending):
            self._live_update(name)

    # ------------------------------------------------------------------------------------- suggestions

    def suggest(self, name: str, n_best: int = 5, **kwargs) -> list[dict]:
        """Safer trajectories near the screw (``suggest.suggest_trajectories``), best first, as dicts (LPS)."""
        from ..screws.suggest import suggest_trajectories

        self._require_bone()
        found = suggest_trajectories(self.screw(name), self.bone, self.catalog, self.margin_mm, n_best=n_best, **kwargs)
        self.suggestions[name] = found
        return [s.to_dict() for s in found]

    def accept_suggestion(self, name: str, index: int = 0) -> dict:
        """Move the screw onto suggestion ``index`` of the last :meth:`suggest` (implant included); returns its check."""
        found = self.suggestions.get(name) or []
        if not 0 <= int(index) < len(found):
            raise PosteoInputError(f"suggestion {index} of screw '{name}'", f"no such suggestion ({len(found)} available)")
        s = found[int(index)].screw
        node = self.line_node(name)
        self._set_screw_attributes(node, s)
        self._set_line_points(node, s.entry_lps, s.tip_lps)
        return self.update_screw(name)

    def probe_plane_ras(self, name: str, fraction: float, from_skin: bool = True):
        """Reslice plane of the probe's-eye view: ``(normal, transverse, point)`` in RAS, the normal along the
        screw (entry to tip), the point ``fraction`` (0..1) of the way from the skin entry (or the screw's entry
        when ``from_skin`` is False or the skin is not found) to the tip."""
        from ..screws.model import _perpendicular_frame

        entry, tip = self.screw_points_lps(name)
        start = entry
        if from_skin and self.ct is not None:
            try:
                start = np.asarray(self.guidance(name)["skin_entry_lps"], float)
            except PosteoInputError:
                start = entry
        f = min(max(float(fraction), 0.0), 1.0)
        u = (tip - entry) / np.linalg.norm(tip - entry)
        e1, _ = _perpendicular_frame(u)
        return lps_to_ras(u), lps_to_ras(e1), lps_to_ras(start + f * (tip - start))

    def guidance(self, name: str) -> dict:
        """CT-guidance numbers of the screw (``guidance.compute_guidance``, LPS)."""
        from ..screws.guidance import compute_guidance

        self._require_ct()
        return compute_guidance(self.screw(name), self.ct).to_dict()

    # --------------------------------------------------------------------------------- lesions, cement

    def _point_list(self, role: str, name: str):
        found = self._nodes_with_role(role)
        if found:
            return found[0]
        node = self._new_node("vtkMRMLMarkupsFiducialNode", name, role)
        node.CreateDefaultDisplayNodes()
        return node

    def plan_segmentation_node(self):
        """The segmentation holding the lesion and cement segments (created on first use)."""
        found = self._nodes_with_role("planSegments")
        if found:
            return found[0]
        from ..fileio.scene import register_segmentation_converter_rules

        register_segmentation_converter_rules()
        node = self._new_node("vtkMRMLSegmentationNode", PLAN_SEGMENTS_NAME, "planSegments")
        node.CreateDefaultDisplayNodes()
        return node

    def _set_segment(self, name: str, mask, colour) -> str:
        from ..fileio.segmentation import oriented_labelmap

        seg_node = self.plan_segmentation_node()
        segmentation = seg_node.GetSegmentation()
        old = segmentation.GetSegmentIdBySegmentName(name)
        if old:
            segmentation.RemoveSegment(old)
        seg_node.AddSegmentFromBinaryLabelmapRepresentation(oriented_labelmap(mask, self.bone.geometry), name, list(colour))
        return segmentation.GetSegmentIdBySegmentName(name)

    @staticmethod
    def _labels(node) -> list[str]:
        return [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]

    def add_lesion(self, name: str, seed_lps, pain: str | None = None) -> dict:
        """Segment the lesion at ``seed_lps`` (LPS mm) into a segment of the plan segmentation; returns its metrics
        with the Mirels score (``pain``: mild / moderate / functional, or None)."""
        from ..lesions.segmentation import segment_lesion
        from ..plan.model import LesionSeed

        self._require_bone()
        seed = LesionSeed(name, seed_lps, pain)  # validates name, point and pain
        seeds = self._point_list("lesionSeeds", LESIONS_NAME)
        if seed.name in self._labels(seeds):
            raise PosteoInputError(f"lesion '{name}'", "a lesion of that name is already in the plan")
        lesion = segment_lesion(self.ct, self.bone, seed.seed_lps, seed.name)
        self.lesions[seed.name] = lesion
        # the lesion belongs to the bone, also where it breaks the cortex: live checks then agree with the export
        self.bone = self.bone.including([lesion.full_mask()])
        for screw_name in self.screw_names():
            self.update_screw(screw_name)
        index = seeds.AddControlPoint(vtk.vtkVector3d(*lps_to_ras(seed.seed_lps)), seed.name)
        seeds.SetNthControlPointDescription(index, pain or "")
        self._set_segment(seed.name, lesion.full_mask(), lesion_rgb(len(self.lesions) - 1))
        return self.lesion_info(seed.name)

    def lesion_names(self) -> list[str]:
        found = self._nodes_with_role("lesionSeeds")
        return self._labels(found[0]) if found else []

    def set_lesion_pain(self, name: str, pain: str | None) -> dict:
        from ..plan.model import LesionSeed

        LesionSeed(name, [0, 0, 0], pain)  # validates
        seeds = self._point_list("lesionSeeds", LESIONS_NAME)
        seeds.SetNthControlPointDescription(self._labels(seeds).index(name), pain or "")
        return self.lesion_info(name)

    def lesion_info(self, name: str) -> dict:
        """Metrics of a segmented lesion (``Lesion.to_dict``), its Mirels score and its relation to each screw."""
        from ..lesions.analysis import lesion_mirels, screw_relation

        if name not in self.lesions:
            raise PosteoInputError(f"lesion '{name}'", "not segmented in this session")
        seeds = self._point_list("lesionSeeds", LESIONS_NAME)
        pain = seeds.GetNthControlPointDescription(self._labels(seeds).index(name)) or None
        lesion = self.lesions[name]
        out = lesion.to_dict()
        out["pain"] = pain
        out["mirels"] = lesion_mirels(lesion, self.bone, pain)
        out["screws"] = [screw_relation(self.screw(n), lesion, self.bone) for n in self.screw_names()]
        return out

    def add_cement(self, name: str, point_lps, volume_ml: float) -> dict:
        """Simulate ``volume_ml`` mL of cement injected at ``point_lps`` (LPS mm) into a plan segment; returns
        ``CementResult.to_dict`` (fill of each lesion, leak risk)."""
        from ..lesions.cement import simulate_cement
        from ..plan.model import CementInjection

        self._require_bone()
        inj = CementInjection(name, point_lps, volume_ml)
        points = self._point_list("cementInjections", CEMENT_NAME)
        if inj.name in self._labels(points):
            raise PosteoInputError(f"cement '{name}'", "an injection of that name is already in the plan")
        screws = [self.screw(n) for n in self.screw_names()]
        result = simulate_cement(self.ct, self.bone, inj.point_lps, inj.volume_ml, list(self.lesions.values()), inj.name,
                                 screws=screws)
        self.cement[inj.name] = result
        index = points.AddControlPoint(vtk.vtkVector3d(*lps_to_ras(inj.point_lps)), inj.name)
        points.SetNthControlPointDescription(index, repr(inj.volume_ml))
        self._set_segment(inj.name, result.mask, CEMENT_RGB)
        return result.to_dict()

    def cement_names(self) -> list[str]:
        found = self._nodes_with_role("cementInjections")
        return self._labels(found[0]) if found else []

    # ------------------------------------------------------------------------------------- plan, files

    def plan(self):
        """The :class:`plan.Plan` (LPS mm) built from the session's nodes (RAS control points converted)."""
        from ..plan.model import CementInjection, LesionSeed, Plan

        screws = [self.screw(n) for n in self.screw_names()]
        results = {}
        for node in self.screw_line_nodes():
            grade = node.GetAttribute(PREFIX + "Grade")
            clearance = node.GetAttribute(PREFIX + "MinClearanceMm")
            if grade and grade != "invalid":
                results[node.GetAttribute(SCREW_NAME)] = {"grade": grade, "min_clearance_mm": float(clearance)}
        lesions, cement = [], []
        for node in self._nodes_with_role("lesionSeeds"):
            for i in range(node.GetNumberOfControlPoints()):
                lesions.append(LesionSeed(node.GetNthControlPointLabel(i), ras_to_lps(_vector(node, i)),
                                          node.GetNthControlPointDescription(i) or None))
        for node in self._nodes_with_role("cementInjections"):
            for i in range(node.GetNumberOfControlPoints()):
                cement.append(CementInjection(node.GetNthControlPointLabel(i), ras_to_lps(_vector(node, i)),
                                              float(node.GetNthControlPointDescription(i))))
        return Plan(self.name, screws, lesions, cement, self.margin_mm, str(self.ct.source) if self.ct is not None else "",
                    results)

    def lesion_cement_report(self) -> dict:
        """Lesions and cement of the session as in ``analyze_lesions_and_cement`` (from the cached results)."""

        lesions = [self.lesion_info(n) for n in self.lesion_names() if n in self.lesions]
        cement = [self.cement[n].to_dict() for n in self.cement_names() if n in self.cement]
        segments = [(n, self.lesions[n].full_mask(), lesion_rgb(k))
                    for k, n in enumerate(self.lesion_names()) if n in self.lesions]
        segments += [(n, self.cement[n].mask, CEMENT_RGB) for n in self.cement_names() if n in self.cement]
        return {"coordinate_system": "LPS", "lesions": lesions, "cement": cement, "segments": segments}

    def export(self, out_dir, progress=None) -> dict:
        """Write the plan bundle to ``out_dir`` as ``plan_runner.run_plan`` does (``plan.mrk.json``, ``report.json``,
        ``screws/<name>.vtk|stl`` in LPS, ``plan.seg.nrrd`` with the bone, lesion and cement segments) plus
        ``report.html`` when the HTML report is available.  Returns ``{what: path}`` of the files written."""
        from ..bone.outputs import bone_segments
        from ..fileio.segmentation import write_segmentation
        from ..plan.markups import save_plan
        from ..report.json_report import build_report, write_report

        self._require_bone()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in self.screw_names():
            self.update_screw(name)
        plan = self.plan()
        if plan.screws:
            from ..plan.runner import run_plan

            report = run_plan(self.ct, plan, out, bone=self.bone, catalog=self.catalog, progress=progress)
        else:  # run_plan needs screws: the same files from the session's own lesion and cement results
            extra = self.lesion_cement_report()
            report = build_report(self.ct, self.margin_mm, [], [], self.bone.volumes_ml(), {"plan": plan.name})
            report["lesions"], report["cement"] = extra["lesions"], extra["cement"]
            write_segmentation(out / "plan.seg.nrrd", bone_segments(self.bone) + extra["segments"], self.bone.geometry)
            save_plan(plan, out / "plan.mrk.json")
            write_report(out / "report.json", report)
        files = {"plan": out / "plan.mrk.json", "report": out / "report.json", "segmentation": out / "plan.seg.nrrd"}
        if plan.screws:
            files["screws"] = out / "screws"
        html = self._write_html(out, report)
        if html is not None:
            files["html"] = html
        return {k: Path(v) for k, v in files.items() if Path(v).exists()}

    def _write_html(self, out: Path, report: dict):
        try:
            from ..report import html_report as report_html
        except ImportError:
            return None
        writer = getattr(report_html, "write_report", None)
        if writer is None:
            return None
        return writer(out / "report.html", report=report, bone=self.bone, ct=self.ct)

    def import_plan(self, path) -> list[str]:
        """Load a plan file (or files/folder) with Slicer's markups reader and rebuild its screws (models, checks);
        lesions and cement are re-segmented / re-simulated.  Returns the screw names."""
        from ..plan.markups import load_plan, load_plan_into_scene
        from ..plan.markups_schema import decode_description

        self._require_bone()
        plan = load_plan(path)
        clash = [s.name for s in plan.screws if s.name in self.screw_names()]
        if clash:
            raise PosteoInputError(path, f"screws already in the session: {', '.join(clash)}")
        ids = load_plan_into_scene(path, self.scene)
        nodes = [self.scene.GetNodeByID(i) for i in ids]
        lines = [n for n in nodes if n is not None and n.IsA("vtkMRMLMarkupsLineNode")]
        by_name = {}
        for n in lines:
            fields = None
            for i in range(n.GetNumberOfControlPoints()):
                fields = fields or decode_description(n.GetNthControlPointDescription(i), path)
            by_name[(fields or {}).get("name", n.GetName())] = n
        used = set()
        self.margin_mm = plan.margin_mm
        for s in plan.screws:
            node = by_name.get(s.name)
            if node is None or id(node) in used:
                free = [n for n in lines if id(n) not in used]
                node = min(free, key=lambda n: float(np.linalg.norm(ras_to_lps(_vector(n, 0)) - s.entry_lps))) if free else None
            if node is not None:
                used.add(id(node))
                if node.GetStorageNode() is not None:
                    self._remove_nodes([node.GetStorageNode()])
                    node.SetAndObserveStorageNodeID(None)
            self.add_screw(s.name, s.entry_lps, s.tip_lps, s.implant_id, line_node=node)
            line = self.line_node(s.name)
            self._set_screw_attributes(line, s)
            self.update_screw(s.name)
        self._remove_nodes([n for n in nodes if n is not None and id(n) not in used])
        for les in plan.lesions:
            self.add_lesion(les.name, les.seed_lps, les.pain)
        for inj in plan.cement:
            self.add_cement(inj.name, inj.point_lps, inj.volume_ml)
        return [s.name for s in plan.screws]

