"""The screws of a planning session: one line node and one model node each (see :mod:`.screw_nodes`)."""

from __future__ import annotations

import time

import numpy as np

from ..errors import PosteoInputError
from ..report.format import ENTERED_KINDS, nogo_text
from . import screw_nodes as sn
from .folder import NodeRole

DEFAULT_DIAMETER_MM = 7.3


class ScrewSet:
    """Mixin of :class:`PlanningSession`: add, move, re-implant, remove and re-check screws (LPS API)."""

    def screw_line_nodes(self) -> list:
        return self.folder.nodes_with_role(NodeRole.SCREW)

    def screw_names(self) -> list[str]:
        return [n.GetAttribute(sn.SCREW_NAME) for n in self.screw_line_nodes()]

    def line_node(self, name: str):
        for n in self.screw_line_nodes():
            if n.GetAttribute(sn.SCREW_NAME) == name:
                return n
        raise PosteoInputError(f"screw '{name}'", f"no such screw in the plan ({', '.join(self.screw_names()) or 'none'})")

    def model_node(self, name: str):
        return self.line_node(name).GetNodeReference(sn.MODEL_REFERENCE)

    def screw_points_lps(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(entry, tip) of the screw in LPS mm, read from the line node's RAS control points."""
        node = self.line_node(name)
        return sn.control_point_lps(node, 0), sn.control_point_lps(node, 1)

    def screw(self, name: str):
        """The :class:`screws.screw.Screw` (LPS) of the line node ``name``."""
        return sn.read_screw(self.line_node(name))

    def add_screw(self, name: str | None, entry_lps, tip_lps, implant_id: str | None = None, diameter_mm: float | None = None,
                  line_node=None, role: str | None = None) -> object:
        """A screw from ``entry_lps`` to ``tip_lps`` (LPS mm, kept as given): a line node ("entry", "tip") and a
        model coloured by grade.  ``implant_id``: catalog id (default: the catalog implant nearest to the drawn
        length at ``diameter_mm``, default 7.3 mm).  ``name=None``: "Screw N".  ``role``: see ``screws.roles`` (default: implied by the name,
        else other).  ``line_node``: adopt an existing line node (its points are replaced).  Returns the line node."""
        from ..screws.roles import role_from_name
        from ..screws.screw import Screw

        self._require_bone()
        name = self.next_name("Screw") if name is None else str(name)
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
        screw = Screw(name, entry, tip, implant.diameter_mm, implant.id, implant.thread_length_mm,
                      role=role_from_name(name) if role is None else role)  # validates
        node = line_node if line_node is not None else self.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
        self.folder.adopt(node, NodeRole.SCREW)
        with self.live.suspended():
            sn.write_screw(node, screw)
        if node.GetDisplayNode() is None:
            node.CreateDefaultDisplayNodes()
        model = self.folder.new_node("vtkMRMLModelNode", f"{name} model", NodeRole.SCREW_MODEL)
        model.CreateDefaultDisplayNodes()
        sn.link_model(node, model)
        self.update_screw(name)
        return node

    def add_screw_from_line(self, line_node, implant_id: str | None = None, role: str | None = None, observe: bool = True) -> str:
        """A line placed in the views (entry, tip) becomes the screw "Screw N", observed for live feedback; returns its name."""
        name = self.next_name("Screw")
        self.add_screw(name, sn.control_point_lps(line_node, 0), sn.control_point_lps(line_node, 1), implant_id,
                       line_node=line_node, role=role or None)
        if observe:
            self.observe_screw(name)
        return name

    def set_screw(self, name: str, screw) -> dict:
        """Replace the screw ``name`` by ``screw`` (points, implant, role; the name stays) and re-check it."""
        node = self.line_node(name)
        with self.live.suspended():
            sn.write_implant(node, screw, screw.role)
            sn.set_points_lps(node, screw.entry_lps, screw.tip_lps)
        return self.update_screw(name)

    def set_screw_points(self, name: str, entry_lps, tip_lps) -> dict:
        """Move a screw (LPS mm) and re-check it; returns the check dict."""
        with self.live.suspended():
            sn.set_points_lps(self.line_node(name), entry_lps, tip_lps)
        return self.update_screw(name)

    def set_implant(self, name: str, implant_id: str) -> dict:
        sn.write_implant(self.line_node(name), self.catalog.get(implant_id))
        return self.update_screw(name)

    def set_role(self, name: str, role: str) -> dict:
        """Set the screw's role (``screws.roles``: decides e.g. the femoral-neck metrics)."""
        from ..screws.roles import parse_role

        self.line_node(name).SetAttribute(sn.SCREW_ROLE, parse_role(role, f"screw '{name}' role"))
        return self.update_screw(name)

    def remove_screw(self, name: str) -> None:
        node = self.line_node(name)
        self.live.unobserve(name)
        self.suggestions.pop(name, None)
        model = node.GetNodeReference(sn.MODEL_REFERENCE)
        self.folder.remove_nodes([n for n in (model, node) if n is not None])

    def update_screw(self, name: str) -> dict:
        """Re-check the screw, rebuild its model (RAS) and colour it by grade; returns the check dict (no profile).

        A screw that cannot be checked (zero length, outside the CT) is coloured grey with grade "invalid"."""
        from ..screws.clearance import check_screw

        self._require_bone()
        node = self.line_node(name)
        model = node.GetNodeReference(sn.MODEL_REFERENCE)
        try:
            screw = self.screw(name)
            result = check_screw(screw, self.bone, self.margin_mm, catalog=self.catalog)
        except PosteoInputError as exc:
            sn.write_check(node, sn.INVALID, None)
            sn.show_model(model, None, sn.INVALID)
            return {"name": name, "grade": sn.INVALID, "error": str(exc)}
        sn.write_check(node, result.grade, result.min_clearance_mm, nogo_text(result.nogo_clearance_mm, *(getattr(result, k) for k in ENTERED_KINDS)))
        sn.show_model(model, screw, result.grade)
        return result.to_dict(profile=False)

    def grade(self, name: str) -> str:
        """The grade of the last check (node attribute)."""
        return self.line_node(name).GetAttribute(sn.GRADE) or ""

    def stored_check(self, name: str) -> dict | None:
        """``{"grade", "min_clearance_mm"}`` of the last check (None when unchecked or invalid)."""
        return sn.read_check(self.line_node(name))

    def model_colour(self, name: str) -> tuple:
        return tuple(self.model_node(name).GetDisplayNode().GetColor())

    def timed_drag_update(self, name: str) -> float:
        """Milliseconds of one live update (check + model + colour) of the screw as it stands."""
        t = time.perf_counter()
        self.update_screw(name)
        return 1e3 * (time.perf_counter() - t)

    # live feedback (see live.py)

    def observe_screw(self, name: str) -> None:
        """Re-check the screw whenever one of its control points moves (throttled, see ``live``)."""
        self.live.observe(name, self.line_node(name))

    def unobserve_screw(self, name: str) -> None:
        self.live.unobserve(name)

    def observed_screws(self) -> list[str]:
        return self.live.observed()

    def pending(self) -> list[str]:
        """Screws whose last move has not been processed yet (throttled)."""
        return self.live.pending()

    def flush(self) -> None:
        """Process every deferred live update now."""
        self.live.flush()
