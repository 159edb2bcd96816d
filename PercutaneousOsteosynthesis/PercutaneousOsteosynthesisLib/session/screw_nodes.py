"""The one encoder/decoder between a screw and its MRML nodes: a ``vtkMRMLMarkupsLineNode`` (control points
"entry" and "tip" in RAS, screw parameters and the last check as node attributes) and a ``vtkMRMLModelNode``
(the screw's surface in RAS, coloured by grade), tied by node references both ways."""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from ..errors import PosteoInputError
from ..geometry.frames import lps_to_ras, ras_to_lps
from ..palette import grade_rgb
from .folder import ATTRIBUTE_PREFIX

SCREW_NAME = ATTRIBUTE_PREFIX + "ScrewName"
MODEL_REFERENCE = ATTRIBUTE_PREFIX + "ScrewModel"
LINE_REFERENCE = ATTRIBUTE_PREFIX + "ScrewLine"
IMPLANT_ID = ATTRIBUTE_PREFIX + "ImplantId"
DIAMETER = ATTRIBUTE_PREFIX + "DiameterMm"
THREAD = ATTRIBUTE_PREFIX + "ThreadLengthMm"
WASHER = ATTRIBUTE_PREFIX + "Washer"
BICORTICAL = ATTRIBUTE_PREFIX + "Bicortical"
SCREW_ROLE = ATTRIBUTE_PREFIX + "ScrewRole"
GRADE = ATTRIBUTE_PREFIX + "Grade"
MIN_CLEARANCE = ATTRIBUTE_PREFIX + "MinClearanceMm"
NOGO = ATTRIBUTE_PREFIX + "Nogo"  # report.format.nogo_text of the last check
INVALID = "invalid"  # the grade of a screw that cannot be checked


def control_point_lps(node, index: int) -> np.ndarray:
    """Control point ``index`` of a markups node (world RAS) as LPS mm."""
    p = [0.0, 0.0, 0.0]
    node.GetNthControlPointPositionWorld(index, p)
    return ras_to_lps(np.array(p, float))


def write_implant(node, screw_or_implant, role: str | None = None) -> None:
    """Implant id, diameter, thread length (and washer, role when given) of a Screw or catalog Implant."""
    node.SetAttribute(IMPLANT_ID, getattr(screw_or_implant, "implant_id", None) or getattr(screw_or_implant, "id", None) or "")
    node.SetAttribute(DIAMETER, repr(float(screw_or_implant.diameter_mm)))
    thread = screw_or_implant.thread_length_mm
    node.SetAttribute(THREAD, "full" if thread is None else repr(float(thread)))
    if hasattr(screw_or_implant, "washer"):
        node.SetAttribute(WASHER, "1" if screw_or_implant.washer else "0")
        node.SetAttribute(BICORTICAL, "1" if getattr(screw_or_implant, "bicortical", False) else "0")
    if role is not None:
        node.SetAttribute(SCREW_ROLE, role)


def write_screw(node, screw) -> None:
    """Name, parameters, role and points (LPS -> RAS control points "entry", "tip") of ``screw`` on its line node."""
    node.SetName(screw.name)
    node.SetAttribute(SCREW_NAME, screw.name)
    write_implant(node, screw, screw.role)
    set_points_lps(node, screw.entry_lps, screw.tip_lps)


def set_points_lps(node, entry_lps, tip_lps) -> None:
    ras = lps_to_ras(np.array([entry_lps, tip_lps], float))
    was = node.StartModify()
    node.RemoveAllControlPoints()
    node.AddControlPoint(vtk.vtkVector3d(*ras[0]), "entry")
    node.AddControlPoint(vtk.vtkVector3d(*ras[1]), "tip")
    node.EndModify(was)


def read_screw(node):
    """The :class:`Screw` (LPS) a line node holds."""
    from ..screws.screw import Screw

    name = node.GetAttribute(SCREW_NAME) or node.GetName()
    if node.GetNumberOfControlPoints() != 2:
        raise PosteoInputError(f"screw '{name}'", f"needs 2 control points (entry, tip), has {node.GetNumberOfControlPoints()}")
    thread = node.GetAttribute(THREAD)
    return Screw(name, control_point_lps(node, 0), control_point_lps(node, 1), float(node.GetAttribute(DIAMETER)),
                 node.GetAttribute(IMPLANT_ID) or None, None if thread in (None, "", "full") else float(thread),
                 node.GetAttribute(WASHER) == "1", role=node.GetAttribute(SCREW_ROLE), bicortical=node.GetAttribute(BICORTICAL) == "1")


def write_check(node, grade: str, min_clearance_mm: float | None, nogo: str = "") -> None:
    node.SetAttribute(GRADE, grade)
    node.SetAttribute(MIN_CLEARANCE, "" if min_clearance_mm is None else repr(float(min_clearance_mm)))
    node.SetAttribute(NOGO, nogo)


def read_check(node) -> dict | None:
    """``{"grade", "min_clearance_mm", "nogo"}`` of the last check, None when unchecked or invalid."""
    grade, clearance = node.GetAttribute(GRADE), node.GetAttribute(MIN_CLEARANCE)
    if not grade or grade == INVALID:
        return None
    return {"grade": grade, "min_clearance_mm": float(clearance), "nogo": node.GetAttribute(NOGO) or ""}


def link_model(line_node, model_node) -> None:
    model_node.SetAttribute(SCREW_NAME, line_node.GetAttribute(SCREW_NAME))
    line_node.SetNodeReferenceID(MODEL_REFERENCE, model_node.GetID())
    model_node.SetNodeReferenceID(LINE_REFERENCE, line_node.GetID())


def show_model(model_node, screw, grade: str) -> None:
    """The screw's surface (RAS) in its model node, coloured by ``grade``; ``screw=None`` keeps the surface."""
    if model_node is None:
        return
    if screw is not None:
        from ..screws.model import screw_polydata_lps

        poly = screw_polydata_lps(screw, resolution=16)
        for data in (poly.GetPoints().GetData(), poly.GetPointData().GetNormals(), poly.GetCellData().GetNormals()):
            if data is not None:
                vtk_to_numpy(data)[:, :2] *= -1.0  # LPS -> RAS (a rotation: orientation kept)
        poly.GetPoints().Modified()
        model_node.SetAndObservePolyData(poly)
    display = model_node.GetDisplayNode()
    if display is None:
        model_node.CreateDefaultDisplayNodes()
        display = model_node.GetDisplayNode()
    display.SetColor(*grade_rgb(grade))
    display.SetVisibility2D(True)  # the screw's outline in the slice views, in the grade's colour
