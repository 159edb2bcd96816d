"""Conversions between the Lib's objects and Slicer MRML nodes (volume, segmentation) in a given scene.

Slicer's nodes hold RAS geometry (IJKToRAS); the Lib's objects are LPS.  Works on any ``vtkMRMLScene``
(Slicer's own or one from the slicer-core wheel); never touches the application.
"""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util import numpy_support

from ..errors import PosteoInputError
from ..geometry.frames import ImageGeometry
from ..geometry.vtk_matrix import from_vtk_matrix, to_vtk_matrix
from .volume import CTVolume


def geometry_from_ijk_to_ras(ijk_to_ras: np.ndarray, dims) -> ImageGeometry:
    """ImageGeometry (LPS) of a grid given its 4x4 IJK-to-RAS matrix and its (i, j, k) dimensions."""
    ijk_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ijk_to_ras
    spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
    if np.any(spacing <= 0):
        raise PosteoInputError("volume node", "has zero voxel spacing")
    direction = ijk_to_lps[:3, :3] / spacing
    return ImageGeometry(tuple(int(d) for d in dims), tuple(spacing.tolist()), tuple(ijk_to_lps[:3, 3].tolist()),
                         tuple(direction.ravel().tolist()))


def ct_volume_from_node(node) -> CTVolume:
    """CTVolume (float32 HU [k, j, i], LPS geometry) from a ``vtkMRMLScalarVolumeNode``."""
    if node is None or node.GetImageData() is None:
        raise PosteoInputError("volume node", "has no image data")
    image = node.GetImageData()
    dims = image.GetDimensions()
    if image.GetNumberOfScalarComponents() != 1:
        raise PosteoInputError(node.GetName(), "is not a scalar volume")
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    geo = geometry_from_ijk_to_ras(from_vtk_matrix(m), dims)
    arr = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[2], dims[1], dims[0])
    return CTVolume(arr.astype(np.float32), geo, node.GetName())


def volume_node_from_ct(ct: CTVolume, scene, name: str = "CT"):
    """A new ``vtkMRMLScalarVolumeNode`` in ``scene`` holding the CT (RAS geometry as Slicer expects)."""
    image = vtk.vtkImageData()
    ni, nj, nk = ct.geometry.size
    image.SetDimensions(ni, nj, nk)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(np.ascontiguousarray(ct.array, np.int16).ravel(), deep=True,
                                                               array_type=vtk.VTK_SHORT))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.SetIJKToRASMatrix(to_vtk_matrix(ct.geometry.ijk_to_ras_matrix()))
    node.SetAndObserveImageData(image)
    node.CreateDefaultDisplayNodes()
    return node
