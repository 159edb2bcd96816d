"""Clicks in the views place a screw (two clicks: entry, then tip), a lesion seed or a cement point (one click).

A temporary markups node is put in Slicer's place mode; when its points are defined, ``on_done(kind, node,
points_lps)`` is called and the caller turns it into a screw or removes it.  Points are LPS mm.  The call is
deferred with ``defer(fn)`` (the server's event loop): a node must not leave the scene while its own placement
event is still being processed.
"""

from __future__ import annotations

import numpy as np

POINTS_NEEDED = {"screw": 2, "lesion": 1, "cement": 1}
NODE_CLASS = {"screw": "vtkMRMLMarkupsLineNode", "lesion": "vtkMRMLMarkupsFiducialNode", "cement": "vtkMRMLMarkupsFiducialNode"}


class Placement:
    def __init__(self, scene, markups_logic, on_done, defer):
        self.scene = scene
        self.defer = defer
        self.markups_logic = markups_logic  # trame-slicer's MarkupsLogic (place_node, disable_place_mode)
        self.on_done = on_done
        self.kind = ""
        self.node = None
        self._tag = None

    def start(self, kind: str) -> None:
        """Let the next click(s) in a slice or 3D view place a ``kind`` (see ``POINTS_NEEDED``)."""
        import slicer

        if kind not in POINTS_NEEDED:
            raise ValueError(f"unknown placement '{kind}' (expected one of {', '.join(POINTS_NEEDED)})")
        self.cancel()
        self.kind = kind
        self.node = self.scene.AddNewNodeByClass(NODE_CLASS[kind], f"new {kind}")
        self.node.CreateDefaultDisplayNodes()
        self._tag = self.node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, self._on_defined)
        self.markups_logic.place_node(self.node, persistent=False)

    def cancel(self) -> None:
        """Leave place mode and delete the unfinished node."""
        node = self._release()
        if node is not None:
            self.scene.RemoveNode(node)

    def _release(self):
        node, self.node = self.node, None
        if node is not None and self._tag is not None:
            node.RemoveObserver(self._tag)
        self._tag = None
        self.kind = ""
        if self.markups_logic.interaction_node is not None:
            self.markups_logic.disable_place_mode()
        return node

    def _on_defined(self, caller, event=None) -> None:
        from PercutaneousOsteosynthesisLib.geometry.frames import ras_to_lps

        node, kind = self.node, self.kind
        if node is None or node.GetNumberOfDefinedControlPoints() < POINTS_NEEDED[kind]:
            return
        points_ras = np.array([node.GetNthControlPointPositionWorld(i) for i in range(POINTS_NEEDED[kind])], float)

        def finish():
            if self.node is node:
                self._release()
                self.on_done(kind, node, ras_to_lps(points_ras))

        self.defer(finish)
