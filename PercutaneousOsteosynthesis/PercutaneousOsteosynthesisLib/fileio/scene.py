"""Helpers around a real ``vtkMRMLScene`` (Slicer's own classes, from Slicer or the slicer-core wheel).

Inside Slicer the application has already done what :func:`prepare_scene` does; outside it (pytest, the
CLI) this is the startup work Slicer would do: register the segmentation converter rules and give the
scene a selection node, which ``vtkSlicerMarkupsLogic`` needs.
"""

from __future__ import annotations

_RULES_REGISTERED = False


def register_segmentation_converter_rules() -> None:
    """Register the labelmap <-> closed-surface conversion rules once (Slicer does this at startup)."""
    global _RULES_REGISTERED
    if _RULES_REGISTERED:
        return
    import slicer

    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    have = {type(r).__name__ for r in factory.GetConverterRules()} if hasattr(factory, "GetConverterRules") else set()
    for cls in ("vtkBinaryLabelmapToClosedSurfaceConversionRule", "vtkClosedSurfaceToBinaryLabelmapConversionRule",
                "vtkClosedSurfaceToFractionalLabelmapConversionRule", "vtkFractionalLabelmapToClosedSurfaceConversionRule"):
        if cls not in have and hasattr(slicer, cls):
            factory.RegisterConverterRule(getattr(slicer, cls)())
    _RULES_REGISTERED = True


def prepare_scene(scene=None):
    """Return ``scene`` (or a new ``vtkMRMLScene``) ready for markups and segmentations outside the Slicer app."""
    import slicer

    register_segmentation_converter_rules()
    if scene is None:
        scene = slicer.vtkMRMLScene()
    if scene.GetFirstNodeByClass("vtkMRMLSelectionNode") is None:
        sel = slicer.vtkMRMLSelectionNode()
        sel.SetSingletonTag("Singleton")
        scene.AddNode(sel)
    return scene


def markups_logic(scene):
    """A ``vtkSlicerMarkupsLogic`` bound to ``scene`` (prepared as Slicer would)."""
    import slicer

    prepare_scene(scene)
    logic = slicer.vtkSlicerMarkupsLogic()
    logic.SetMRMLScene(scene)
    return logic
