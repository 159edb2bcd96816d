"""The session's subject-hierarchy folder: every node the session creates lives in it, tagged with its role."""

from __future__ import annotations

import vtk

FOLDER_NAME = "Percutaneous osteosynthesis plan"
ATTRIBUTE_PREFIX = "PercutaneousOsteosynthesis."
ROLE_ATTRIBUTE = ATTRIBUTE_PREFIX + "Role"
MARGIN_ATTRIBUTE = ATTRIBUTE_PREFIX + "MarginMm"


class NodeRole:
    """The roles of the nodes in a session folder (the value of ``ROLE_ATTRIBUTE``)."""

    CT = "ct"  # a CT the session read itself (e.g. uploaded to the web planner)
    PHANTOM_CT = "phantomCt"
    BONE_MODEL = "boneModel"
    SCREW = "screw"
    SCREW_MODEL = "screwModel"
    LESION_SEEDS = "lesionSeeds"
    CEMENT_INJECTIONS = "cementInjections"
    PLAN_SEGMENTS = "planSegments"


class SessionFolder:
    """The subject-hierarchy folder ``name`` of ``scene`` (created on first use, again after a scene close).

    It owns the folder item id; ``item_id = N`` adopts an existing folder (e.g. of a reloaded scene), which is
    checked on use."""

    def __init__(self, scene, name: str = FOLDER_NAME, item_id: int = 0):
        self.scene = scene
        self.name = name
        self._item = int(item_id)
        self.margin_mm = None  # written on the folder item when known

    @property
    def _sh(self):
        import slicer

        return slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)

    def exists(self) -> bool:
        """True while the folder item is in the scene."""
        return bool(self._item) and self.item_exists(self._item)

    def item_exists(self, item) -> bool:
        sh = self._sh
        ids = vtk.vtkIdList()
        sh.GetItemChildren(sh.GetSceneItemID(), ids, True)
        return ids.IsId(item) >= 0

    @property
    def item_id(self) -> int:
        if self._item and not self.item_exists(self._item):
            self._item = 0
        if not self._item:
            sh = self._sh
            self._item = sh.CreateFolderItem(sh.GetSceneItemID(), self.name)
            if self.margin_mm is not None:
                sh.SetItemAttribute(self._item, MARGIN_ATTRIBUTE, repr(float(self.margin_mm)))
        return self._item

    @item_id.setter
    def item_id(self, value) -> None:
        self._item = int(value)

    def forget(self) -> None:
        """Drop the folder id (its nodes stay; used when the scene is closed)."""
        self._item = 0

    def set_margin(self, margin_mm: float) -> None:
        self.margin_mm = float(margin_mm)
        if self._item:
            self._sh.SetItemAttribute(self._item, MARGIN_ATTRIBUTE, repr(self.margin_mm))

    def adopt(self, node, role: str):
        """Put ``node`` in the folder and tag its role; returns the node."""
        node.SetAttribute(ROLE_ATTRIBUTE, role)
        sh = self._sh
        item = sh.GetItemByDataNode(node)
        if item:
            sh.SetItemParent(item, self.item_id)
        else:
            sh.CreateItem(self.item_id, node)
        return node

    def new_node(self, cls: str, name: str, role: str):
        return self.adopt(self.scene.AddNewNodeByClass(cls, name), role)

    def nodes(self) -> list:
        """The data nodes in the folder (recursively)."""
        if not self._item:
            return []
        sh = self._sh
        ids = vtk.vtkIdList()
        sh.GetItemChildren(self.item_id, ids, True)
        return [n for n in (sh.GetItemDataNode(ids.GetId(k)) for k in range(ids.GetNumberOfIds())) if n is not None]

    def nodes_with_role(self, role: str) -> list:
        return [n for n in self.nodes() if n.GetAttribute(ROLE_ATTRIBUTE) == role]

    def remove_nodes(self, nodes) -> None:
        """Remove data nodes with their display and storage nodes."""
        doomed = []
        for node in nodes:
            for count, nth in (("GetNumberOfDisplayNodes", "GetNthDisplayNode"), ("GetNumberOfStorageNodes", "GetNthStorageNode")):
                if hasattr(node, count):
                    doomed += [x for x in (getattr(node, nth)(i) for i in range(getattr(node, count)())) if x is not None]
            doomed.append(node)
        for node in doomed:
            if node.GetScene() is self.scene:
                self.scene.RemoveNode(node)

    def remove(self) -> None:
        """Delete the folder and every node in it."""
        if self._item:
            self.remove_nodes(self.nodes())
            if self.item_exists(self._item):
                self._sh.RemoveItem(self._item, True, True)
        self._item = 0
