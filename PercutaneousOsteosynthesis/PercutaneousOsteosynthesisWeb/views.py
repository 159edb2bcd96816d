"""What the slice and 3D views show: the CT in a bone window, the bone surface in 3D, and the cursor position."""

from __future__ import annotations

from PercutaneousOsteosynthesisLib.palette import BONE_SURFACE_RGB
from PercutaneousOsteosynthesisLib.report.probe_view import WINDOW_HU

BONE_SURFACE_OPACITY = 1.0  # translucent surfaces draw nothing in offscreen (EGL) views; the page can hide it
DISPLAY_TRIANGLES = 60_000  # the views are rendered in software on the server: every drag re-renders the 3D view
SEGMENT_FILL_OPACITY = 0.2  # the CT's grey values stay readable under the bone model
LAYOUT = "Axial Primary"  # a large axial view beside 3D, coronal and sagittal


def show_ct(slicer_app, volume_node) -> None:
    """The CT in every slice view, in the bone window of the reports; views reset to it."""
    display = volume_node.GetDisplayNode()
    display.AutoWindowLevelOff()
    display.SetWindowLevel(WINDOW_HU[1] - WINDOW_HU[0], 0.5 * (WINDOW_HU[0] + WINDOW_HU[1]))
    slicer_app.display_manager.show_volume_in_slice_background(volume_node)
    slicer_app.display_manager.reset_views()


def bone_surface_ras(bone):
    """The bone model's closed surface in RAS with outward normals, decimated to ``DISPLAY_TRIANGLES`` for the 3D
    view (display only: checks use the distance field).  Pure VTK: may run in a worker thread."""
    import vtk

    surface = bone.surface_polydata_lps()
    flip = vtk.vtkTransform()
    flip.Scale(-1.0, -1.0, 1.0)  # LPS -> RAS
    to_ras = vtk.vtkTransformPolyDataFilter()
    to_ras.SetInputData(surface)
    to_ras.SetTransform(flip)
    decimate = vtk.vtkQuadricDecimation()
    decimate.SetInputConnection(to_ras.GetOutputPort())
    decimate.SetTargetReduction(max(0.0, 1.0 - DISPLAY_TRIANGLES / max(1, surface.GetNumberOfPolys())))
    decimate.VolumePreservationOn()
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputConnection(decimate.GetOutputPort())
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOn()  # outward, so that the 3D view shows the front face's colour
    normals.SplittingOff()
    normals.Update()
    surface = normals.GetOutput()
    surface.GetPointData().SetScalars(None)  # coloured by the display node, not by a lookup table
    surface.GetCellData().SetScalars(None)
    return surface


def show_bone(slicer_app, scene, surface_ras, segmentation_node, previous=None):
    """The bone model's segments as translucent overlays in the slices and its surface (``bone_surface_ras``) as a
    translucent model in 3D; replaces ``previous`` (the previous surface node), returns the new one."""
    segments = segmentation_node.GetDisplayNode()
    if segments is not None:
        segments.SetOpacity2DFill(SEGMENT_FILL_OPACITY)
        segments.SetVisibility3D(False)  # the surface below is lighter than the segments' own surfaces
    if previous is not None and scene.IsNodePresent(previous):
        scene.RemoveNode(previous)
    node = scene.AddNewNodeByClass("vtkMRMLModelNode", "bone surface")
    node.SetAndObservePolyData(surface_ras)
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetColor(*BONE_SURFACE_RGB)
    display.SetOpacity(BONE_SURFACE_OPACITY)
    display.SetVisibility2D(False)
    for view in slicer_app.view_manager.get_threed_views():
        view.reset_camera()
        view.reset_focal_point()
    return node


def set_visible_3d(node, visible: bool) -> None:
    if node is not None and node.GetDisplayNode() is not None:
        node.GetDisplayNode().SetVisibility(bool(visible))


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
