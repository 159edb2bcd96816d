"""Slicer segmentation files (``.seg.nrrd``) written and read with Slicer's own segmentation classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import vtk
from vtk.util import numpy_support

from ..errors import PosteoInputError
from ..geometry.frames import ImageGeometry
from ..geometry.vtk_matrix import from_vtk_matrix, to_vtk_matrix
from .atomic import atomic_path
from .scene import prepare_scene


def oriented_labelmap(mask: np.ndarray, geometry: ImageGeometry):
    """A ``vtkOrientedImageData`` (Slicer's labelmap, RAS world) of a ``[k, j, i]`` mask, cropped to its extent."""
    import slicer

    img = slicer.vtkOrientedImageData()
    img.SetImageToWorldMatrix(to_vtk_matrix(geometry.ijk_to_ras_matrix()))
    nz = np.argwhere(mask)
    if len(nz) == 0:
        lo = np.zeros(3, int)
        hi = np.zeros(3, int)
    else:
        lo, hi = nz.min(axis=0), nz.max(axis=0)
    sub = np.ascontiguousarray(mask[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1], dtype=np.uint8)
    img.SetExtent(int(lo[2]), int(hi[2]), int(lo[1]), int(hi[1]), int(lo[0]), int(hi[0]))
    img.GetPointData().SetScalars(numpy_support.numpy_to_vtk(sub.ravel(), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR))
    return img


def write_segmentation(path, segments, geometry: ImageGeometry, scene=None) -> Path:
    """Write ``segments`` — (name, mask [k, j, i], rgb 0..1) tuples — to a Slicer ``.seg.nrrd`` file, atomically.

    Overlapping segments are kept (Slicer stores them in separate layers)."""
    import slicer

    scene = prepare_scene(scene)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    try:
        ref = slicer.vtkOrientedImageData()
        ref.SetImageToWorldMatrix(to_vtk_matrix(geometry.ijk_to_ras_matrix()))
        ref.SetExtent(0, geometry.size[0] - 1, 0, geometry.size[1] - 1, 0, geometry.size[2] - 1)
        conv = slicer.vtkSegmentationConverter
        node.GetSegmentation().SetConversionParameter(conv.GetReferenceImageGeometryParameterName(), conv.SerializeImageGeometry(ref))
        for name, mask, color in segments:
            node.AddSegmentFromBinaryLabelmapRepresentation(oriented_labelmap(mask, geometry), str(name), [float(c) for c in color])
        storage = slicer.vtkMRMLSegmentationStorageNode()
        scene.AddNode(storage)
        try:
            with atomic_path(path) as tmp:
                storage.SetFileName(str(tmp))
                if not storage.WriteData(node):
                    raise PosteoInputError(path, "Slicer's segmentation writer failed")
        finally:
            scene.RemoveNode(storage)
    finally:
        scene.RemoveNode(node)
    return Path(path)


def read_segmentation(path, scene=None) -> dict:
    """Read a ``.seg.nrrd`` with Slicer's reader: {segment name: (mask [k, j, i] on the segment's own grid, ImageGeometry)}."""
    import slicer

    path = Path(path)
    if not path.exists():
        raise PosteoInputError(path, "file not found")
    scene = prepare_scene(scene)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    try:
        storage.SetFileName(str(path))
        if not storage.ReadData(node):
            raise PosteoInputError(path, "not a Slicer segmentation file, or the file is corrupt")
        seg = node.GetSegmentation()
        out = {}
        for idx in range(seg.GetNumberOfSegments()):
            segment = seg.GetNthSegment(idx)
            lm = slicer.vtkOrientedImageData()
            node.GetBinaryLabelmapRepresentation(seg.GetNthSegmentID(idx), lm)
            out[segment.GetName()] = _oriented_to_numpy(lm)
        return out
    finally:
        scene.RemoveNode(storage)
        scene.RemoveNode(node)


def _oriented_to_numpy(lm):
    ext = lm.GetExtent()
    dims = [ext[1] - ext[0] + 1, ext[3] - ext[2] + 1, ext[5] - ext[4] + 1]
    m = vtk.vtkMatrix4x4()
    lm.GetImageToWorldMatrix(m)
    ijk_to_ras = from_vtk_matrix(m)
    ijk_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ijk_to_ras
    if min(dims) <= 0 or lm.GetPointData().GetScalars() is None:
        arr = np.zeros((0, 0, 0), bool)
    else:
        arr = numpy_support.vtk_to_numpy(lm.GetPointData().GetScalars()).reshape(dims[2], dims[1], dims[0]) > 0
    spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
    direction = ijk_to_lps[:3, :3] / spacing
    origin = ijk_to_lps[:3, :3] @ np.array([ext[0], ext[2], ext[4]], float) + ijk_to_lps[:3, 3]
    geo = ImageGeometry(tuple(max(d, 0) for d in dims), tuple(spacing.tolist()), tuple(origin.tolist()), tuple(direction.ravel().tolist()))
    return arr, geo
