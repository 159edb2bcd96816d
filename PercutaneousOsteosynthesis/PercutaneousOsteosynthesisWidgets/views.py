"""Slice and 3D view helpers of the panel: CT window, jumping to a screw, bone segment groups."""

import slicer

# Segments of the bone model, by name, toggled by the panel's "Show" check boxes.
SEGMENT_GROUPS = {
    "bone": ("bone", "cancellous", "sacroiliac joint"),
    "cortex": ("cortex",),
    "metal": ("metal",),
}


def showCt(volumeNode) -> None:
    """Show the CT in the slice views with a bone window."""
    if volumeNode.GetDisplayNode() is None:
        volumeNode.CreateDefaultDisplayNodes()
    displayNode = volumeNode.GetDisplayNode()
    if displayNode is not None:
        displayNode.SetAutoWindowLevel(False)
        displayNode.SetWindowLevel(1800, 400)
    slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)


def jumpSlicesToLps(pointLps) -> None:
    """Centre the slice views on a point given in LPS (the scene is RAS)."""
    from PercutaneousOsteosynthesisLib.geometry.frames import lps_to_ras

    ras = lps_to_ras(pointLps)
    slicer.modules.markups.logic().JumpSlicesToLocation(float(ras[0]), float(ras[1]), float(ras[2]), True)


def setSegmentGroupVisibility(segmentationNode, visibility: dict) -> None:
    """Show or hide the segment groups of SEGMENT_GROUPS, e.g. ``{"bone": True, "metal": False}``."""
    from PercutaneousOsteosynthesisLib.bone.outputs import show_segments

    show_segments(segmentationNode, {name: shown for group, shown in visibility.items() for name in SEGMENT_GROUPS[group]})
