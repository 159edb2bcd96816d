"""What the slice and 3D views show: the CT in a bone window, the bone model (outline in the slices, surface in 3D),
and the cursor position."""

from __future__ import annotations

from PercutaneousOsteosynthesisLib.geometry.frames import lps_to_ras
from PercutaneousOsteosynthesisLib.palette import BONE_SURFACE_RGB
from PercutaneousOsteosynthesisLib.report.probe_view import WINDOW_HU

BONE_SURFACE_OPACITY = 1.0  # translucent surfaces draw nothing in offscreen (EGL) views; the page can hide it
DISPLAY_TRIANGLES = 20_000  # the views are rendered in software on the server: every drag re-renders the 3D view
LAYOUT = "Axial Primary"  # a large axial view beside 3D, coronal and sagittal


def show_ct(slicer_app, volume_node) -> None:
    """The CT in every slice view, in the bone window of the reports; views reset to it."""
    display = volume_node.GetDisplayNode()
    display.AutoWindowLevelOff()
    display.SetWindowLevel(WINDOW_HU[1] - WINDOW_HU[0], 0.5 * (WINDOW_HU[0] + WINDOW_HU[1]))
    slicer_app.display_manager.show_volume_in_slice_background(volume_node)
    slicer_app.display_manager.reset_views()


def _polydata_ras(polydata_lps, max_triangles: int | None = None):
    """RAS copy of an LPS surface, decimated to ``max_triangles``, with outward normals and no scalars (coloured by
    its display node, not by a lookup table).  Pure VTK: may run in a worker thread."""
    import vtk

    flip = vtk.vtkTransform()
    flip.Scale(-1.0, -1.0, 1.0)  # LPS -> RAS
    to_ras = vtk.vtkTransformPolyDataFilter()
    to_ras.SetInputData(polydata_lps)
    to_ras.SetTransform(flip)
    last = to_ras
    if max_triangles is not None and polydata_lps.GetNumberOfPolys() > max_triangles:
        last = vtk.vtkQuadricDecimation()
        last.SetInputConnection(to_ras.GetOutputPort())
        last.SetTargetReduction(1.0 - max_triangles / polydata_lps.GetNumberOfPolys())
        last.VolumePreservationOn()
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputConnection(last.GetOutputPort())
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOn()  # outward, so that the 3D view shows the front face's colour
    normals.SplittingOff()
    normals.Update()
    out = normals.GetOutput()
    out.GetPointData().SetScalars(None)
    out.GetCellData().SetScalars(None)
    return out


def bone_surfaces_ras(bone) -> tuple:
    """(the bone model's surface at full resolution, for its outline in the slices; the same decimated to
    ``DISPLAY_TRIANGLES`` for the 3D view), both RAS.  Display only: the checks use the distance field."""
    surface = bone.surface_polydata_lps()
    return _polydata_ras(surface), _polydata_ras(surface, DISPLAY_TRIANGLES)


def show_bone(slicer_app, scene, surfaces_ras, segmentation_node, previous=()) -> list:
    """The bone model as its exact outline in the slices and its decimated surface in 3D (``bone_surfaces_ras``);
    the segmentation's own overlays stay hidden (they cost more to render than the rest of a slice view).
    Replaces the ``previous`` nodes; returns the new ones ``[outline, surface]``."""
    segments = segmentation_node.GetDisplayNode()
    if segments is not None:
        segments.SetVisibility(False)
    for node in previous or ():
        if node is not None and scene.IsNodePresent(node):
            scene.RemoveNode(node)
    nodes = []
    for name, polydata, in_2d in (("bone outline", surfaces_ras[0], True), ("bone surface", surfaces_ras[1], False)):
        node = scene.AddNewNodeByClass("vtkMRMLModelNode", name)
        node.SetAndObservePolyData(polydata)
        node.CreateDefaultDisplayNodes()
        display = node.GetDisplayNode()
        display.SetColor(*BONE_SURFACE_RGB)
        display.SetOpacity(BONE_SURFACE_OPACITY)
        display.SetVisibility2D(in_2d)
        display.SetVisibility3D(not in_2d)
        display.SetSliceIntersectionThickness(2)
        nodes.append(node)
    for view in slicer_app.view_manager.get_threed_views():
        view.reset_camera()
        view.reset_focal_point()
    return nodes


def set_visible_3d(surface_node, visible: bool) -> None:
    """Show or hide the 3D bone surface (the last node of ``show_bone``)."""
    display = surface_node.GetDisplayNode() if surface_node is not None else None
    if display is not None:
        display.SetVisibility3D(bool(visible))


def jump_to_lps(scene, point_lps) -> None:
    """Move every slice view's plane through ``point_lps`` (LPS mm), as Slicer does when a markup is selected."""
    import slicer

    r, a, s = (float(v) for v in lps_to_ras(point_lps))
    slicer.vtkMRMLSliceNode.JumpAllSlices(scene, r, a, s)


def observe_cursor(scene, callback) -> None:
    """``callback(position_ras or None)`` whenever the mouse moves over a view (Slicer's crosshair node)."""
    import slicer

    crosshair = scene.GetFirstNodeByClass("vtkMRMLCrosshairNode")
    if crosshair is None:
        return

    def moved(caller, event=None):
        ras = [0.0, 0.0, 0.0]
        callback(tuple(ras) if caller.GetCursorPositionRAS(ras) else None)

    crosshair.AddObserver(slicer.vtkMRMLCrosshairNode.CursorPositionModifiedEvent, moved)
