"""Files of a bone model: ``bone.seg.nrrd`` (Slicer segmentation), ``bone_surface.vtk`` (LPS) and ``bone.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import vtk

from .. import __version__
from ..fileio.atomic import atomic_path, write_json_atomic
from ..fileio.scene import register_segmentation_converter_rules
from ..fileio.segmentation import oriented_labelmap, write_segmentation
from ..palette import BONE_SEGMENT_RGB
from .model import CANCELLOUS, CORTEX, JOINT, METAL, BoneModel

SEGMENT_COLORS = BONE_SEGMENT_RGB


def bone_segments(model: BoneModel):
    """(name, mask, colour) of the bone model's segments."""
    lab = model.labels
    return [("bone", model.envelope, SEGMENT_COLORS["bone"]), ("cortex", lab == CORTEX, SEGMENT_COLORS["cortex"]),
            ("cancellous", lab == CANCELLOUS, SEGMENT_COLORS["cancellous"]), ("metal", lab == METAL, SEGMENT_COLORS["metal"]),
            ("sacroiliac joint", lab == JOINT, SEGMENT_COLORS["sacroiliac joint"])]


def write_polydata(path, polydata) -> Path:
    """Write a vtkPolyData as legacy ``.vtk`` or ``.stl`` (by extension), atomically; coordinates as given (LPS)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".stl":
            w = vtk.vtkSTLWriter()
            w.SetFileTypeToBinary()
        else:
            w = vtk.vtkPolyDataWriter()
            w.SetFileTypeToBinary()
            w.SetHeader("SPACE=LPS")  # Slicer reads model files as LPS unless told otherwise
        w.SetInputData(polydata)
        w.SetFileName(str(tmp))
        if not w.Write():
            raise OSError(f"{path}: cannot write the surface")
    return path


def bone_summary(model: BoneModel) -> dict:
    metal = model.metal_points_lps()
    return {
        "software": f"PercutaneousOsteosynthesis {__version__}",
        "coordinate_system": "LPS",
        "input": {"path": model.source, "sha256": model.sha256},
        "ct_geometry": model.ct_geometry.to_dict(),
        "model_geometry": model.geometry.to_dict(),
        "thresholds_hu": {"bone": model.parameters.bone_threshold_hu, "cortex": model.parameters.cortex_threshold_hu,
                          "metal": model.parameters.metal_threshold_hu},
        "parameters": vars(model.parameters),
        "volumes_ml": model.volumes_ml(),
        "bones": [{"name": c["name"], "volume_ml": round(c["volume_ml"], 3), "centroid_lps": np.round(c["centroid_lps"], 2).tolist()}
                  for c in model.components],
        "metal": {"volume_ml": model.volumes_ml()["metal"], "voxels": int(len(metal)),
                  "centroid_lps": metal.mean(axis=0).round(2).tolist() if len(metal) else None,
                  "bounds_lps": [metal.min(axis=0).round(2).tolist(), metal.max(axis=0).round(2).tolist()] if len(metal) else None},
    }


def write_bone_outputs(model: BoneModel, out_dir, scene=None, segmentation: bool = True) -> dict:
    """Write the bone files into ``out_dir`` (each atomically) and return their paths.  ``segmentation=False`` leaves
    out ``bone.seg.nrrd`` (when a plan's ``plan.seg.nrrd`` holds the same segments)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"surface": out / "bone_surface.vtk", "summary": out / "bone.json"}
    if segmentation:
        paths["segmentation"] = out / "bone.seg.nrrd"
        write_segmentation(paths["segmentation"], bone_segments(model), model.geometry, scene)
    write_polydata(paths["surface"], model.surface_polydata_lps())
    write_json_atomic(paths["summary"], bone_summary(model))
    return paths


def show_segments(segmentation_node, visible: dict) -> None:
    """Show or hide segments of a segmentation node by name (case-insensitive): ``{"cortex": False, ...}``."""
    display = segmentation_node.GetDisplayNode()
    if display is None:
        return
    segmentation = segmentation_node.GetSegmentation()
    ids = {segmentation.GetSegment(i).GetName().lower(): i for i in segmentation.GetSegmentIDs()}
    for name, shown in visible.items():
        if name.lower() in ids:
            display.SetSegmentVisibility(ids[name.lower()], bool(shown))


def segmentation_node_from_bone_model(model, scene, name: str = "Bone model"):
    """A new ``vtkMRMLSegmentationNode`` in ``scene`` with the bone model's segments (bone, cortex, ...)."""
    register_segmentation_converter_rules()
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    for seg_name, mask, color in bone_segments(model):
        node.AddSegmentFromBinaryLabelmapRepresentation(oriented_labelmap(mask, model.geometry), seg_name, list(color))
    return node
