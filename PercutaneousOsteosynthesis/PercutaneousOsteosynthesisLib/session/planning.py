"""A planning session whose state lives in MRML nodes under one subject-hierarchy folder (a given scene).

``PlanningSession(scene)`` keeps every node it creates in its folder (:mod:`.folder`): the CT (or phantom), the
bone-model segmentation, one ``vtkMRMLMarkupsLineNode`` per screw with its ``vtkMRMLModelNode`` (:mod:`.screw_nodes`),
the point lists of lesion seeds and cement injections and a "plan segments" segmentation (:mod:`.lesions_cement`).
Screw parameters, role and the last check are node attributes, so the plan can be rebuilt from the scene alone
(:meth:`PlanningSession.plan`, :mod:`.bundle`).

The API takes and returns LPS mm (``*_lps``); the scene is RAS.  The bone model, CT arrays, segmented lesions and
simulated cement are cached Python objects (derived data, not state).  Live feedback while a control point is
dragged: :meth:`PlanningSession.observe_screw` (:mod:`.live`).

One owner per piece of state: the folder owns the folder item, ``live`` the observers, the nodes the plan; the
session owns the CT and bone model it was given (:meth:`set_ct`, :meth:`set_ct_volume`, :meth:`set_bone_model`).
"""

from __future__ import annotations

import vtk

from ..errors import PosteoInputError, check_margin_mm
from .bundle import Bundle
from .corridors import Corridors
from .findings import Findings
from .folder import FOLDER_NAME, NodeRole, SessionFolder
from .lesions_cement import LesionsAndCement
from .live import LiveUpdates
from .screw_set import ScrewSet


class PlanningSession(ScrewSet, Findings, LesionsAndCement, Corridors, Bundle):
    """A plan on one CT, stored in ``scene`` (a ``vtkMRMLScene``; use ``fileio.scene.prepare_scene`` outside Slicer)."""

    def __init__(self, scene, name: str = "plan", margin_mm: float = 1.0, catalog=None, folder_name: str = FOLDER_NAME,
                 folder_item_id: int = 0):
        import slicer

        self.scene = scene
        self.name = str(name)
        self.folder = SessionFolder(scene, folder_name, folder_item_id)
        self.patient_position = "supine"  # on the CT table (screws.guidance.PATIENT_POSITIONS)
        self.live = LiveUpdates(self._live_update)
        self._catalog = catalog
        self._reset()
        self._scene_tags = [scene.AddObserver(slicer.vtkMRMLScene.StartCloseEvent, self._on_scene_close),
                            scene.AddObserver(slicer.vtkMRMLScene.NodeAboutToBeRemovedEvent, self._on_node_removed)]
        self.margin_mm = margin_mm

    def _reset(self) -> None:
        self.ct = None  # CTVolume (LPS)
        self.ct_node = None
        self.truth = None  # phantom truth after load_phantom()
        self.bone = None  # BoneModel
        self.bone_node = None
        self.lesions: dict = {}  # name -> lesions.segmentation.Lesion
        self.cement: dict = {}  # name -> lesions.cement.CementResult
        self.suggestions: dict = {}  # screw name -> [suggest.Suggestion]
        self.corridors: list = []  # corridors.find.Corridor of the last find_corridors()

    # ------------------------------------------------------------------------------------ folder, margin

    @property
    def catalog(self):
        if self._catalog is None:
            from ..screws.implants import default_catalog

            self._catalog = default_catalog()
        return self._catalog

    @property
    def folder_item_id(self) -> int:
        """The subject hierarchy folder of the session (created on first use, again after a scene close)."""
        return self.folder.item_id

    def adopt_folder(self, item_id: int) -> int:
        """Use an existing folder item (e.g. of a reloaded scene) unless the session already has one; returns the id."""
        if item_id and not self.folder.exists():
            self.folder.item_id = item_id
        return self.folder.item_id

    @property
    def margin_mm(self) -> float:
        return self.folder.margin_mm

    @margin_mm.setter
    def margin_mm(self, value) -> None:
        """A new safety margin (mm) re-grades every screw."""
        margin = check_margin_mm(value)
        changed = margin != self.folder.margin_mm
        self.folder.set_margin(margin)
        if changed and getattr(self, "bone", None) is not None:
            for name in self.screw_names():
                self.update_screw(name)

    def next_name(self, base: str) -> str:
        """``"<base> N"`` with the smallest N not used by a screw, lesion or cement injection of the session."""
        used = set(self.screw_names()) | set(self.lesion_names()) | set(self.cement_names())
        n = 1
        while f"{base} {n}" in used:
            n += 1
        return f"{base} {n}"

    @property
    def throttle_ms(self) -> float:
        """Live updates closer than this to the end of the previous one are deferred (ms)."""
        return self.live.throttle_ms

    @throttle_ms.setter
    def throttle_ms(self, value) -> None:
        self.live.throttle_ms = float(value)

    @property
    def update_callbacks(self) -> list:
        """Callables(name) run after each live update (e.g. to refresh a table)."""
        return self.live.callbacks

    def nodes(self) -> list:
        """The data nodes in the session's folder (recursively)."""
        return self.folder.nodes()

    def remove(self) -> None:
        """Delete the session's folder and every node in it; stop observing."""
        self.live.stop()
        self.folder.remove()
        self._reset()

    def close(self) -> None:
        """Stop observing the scene and the screws (the nodes stay)."""
        self.live.stop()
        for tag in self._scene_tags:
            self.scene.RemoveObserver(tag)
        self._scene_tags = []

    def _on_scene_close(self, caller=None, event=None) -> None:
        self.live.stop()
        self.folder.forget()
        self._reset()

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _on_node_removed(self, caller, event, node=None) -> None:
        """Stop observing a screw line node that leaves the scene."""
        self.live.unobserve_node(node)

    def _live_update(self, name: str) -> None:
        if self.bone is not None:
            self.update_screw(name)

    # -------------------------------------------------------------------------------------- CT and bone

    def set_ct(self, volume_node):
        """Use ``volume_node`` (a scalar volume in HU) as the plan's CT; the bone model is dropped."""
        from ..fileio.nodes import ct_volume_from_node

        return self.set_ct_volume(ct_volume_from_node(volume_node), volume_node)

    def set_ct_volume(self, ct, volume_node=None, truth=None):
        """Use an already read ``CTVolume`` (shown by ``volume_node``) as the plan's CT; the bone model is dropped."""
        self.ct, self.ct_node, self.truth, self.bone = ct, volume_node, truth, None
        return ct

    def load_phantom(self, progress=None, name: str = "PelvisPhantom", **kwargs):
        """Render the synthetic phantom into a new volume node of the folder; returns the node (truth in ``self.truth``)."""
        from ..phantom.ct import make_phantom

        ct, truth = make_phantom(progress=progress, **kwargs)
        return self.add_ct_volume(ct, name, truth)

    def add_ct_volume(self, ct, name: str = "CT", truth=None):
        """Show an already read ``CTVolume`` (e.g. read in a worker thread) in a new volume node of the folder and use
        it as the plan's CT (``truth``: the phantom's, when it is one); returns the node."""
        from ..fileio.nodes import volume_node_from_ct

        role = NodeRole.CT if truth is None else NodeRole.PHANTOM_CT
        node = self.folder.adopt(volume_node_from_ct(ct, self.scene, name=name), role)
        self.set_ct_volume(ct, node, truth)
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
        previous = [n for n in self.folder.nodes_with_role(NodeRole.BONE_MODEL) if n is not segmentation_node]
        if segmentation_node is None:
            name = f"{self.ct_node.GetName() if self.ct_node is not None else 'CT'} bone model"
            segmentation_node = segmentation_node_from_bone_model(bone, self.scene, name=name)
        self.bone_node = self.folder.adopt(segmentation_node, NodeRole.BONE_MODEL)
        self.folder.remove_nodes(previous)
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
