"""Closed triangulated surfaces of masks, in LPS mm."""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util import numpy_support

from ..geometry.frames import ImageGeometry
from ..geometry.vtk_matrix import to_vtk_matrix


def mask_surface_lps(mask: np.ndarray, geometry: ImageGeometry, smooth_iterations: int = 15):
    """A closed, consistently oriented surface (vtkPolyData, LPS mm, outward normals) of a ``[k, j, i]`` mask."""
    m = np.pad(mask.astype(np.uint8), 1)
    img = vtk.vtkImageData()
    img.SetDimensions(m.shape[2], m.shape[1], m.shape[0])
    img.GetPointData().SetScalars(numpy_support.numpy_to_vtk(m.ravel(), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR))
    fe = vtk.vtkDiscreteFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 1)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    smoother = vtk.vtkWindowedSincPolyDataFilter()
    smoother.SetInputConnection(fe.GetOutputPort())
    smoother.SetNumberOfIterations(smooth_iterations)
    smoother.SetPassBand(0.1)
    smoother.BoundarySmoothingOff()
    smoother.FeatureEdgeSmoothingOff()
    smoother.NonManifoldSmoothingOn()
    smoother.NormalizeCoordinatesOn()
    # index (with the padding) -> LPS
    mat = geometry.ijk_to_lps_matrix() @ np.array([[1, 0, 0, -1], [0, 1, 0, -1], [0, 0, 1, -1], [0, 0, 0, 1]], float)
    tr = vtk.vtkTransform()
    tr.SetMatrix(to_vtk_matrix(mat))
    tf = vtk.vtkTransformPolyDataFilter()
    tf.SetInputConnection(smoother.GetOutputPort())
    tf.SetTransform(tr)
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputConnection(tf.GetOutputPort())
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOn()
    normals.SplittingOff()
    normals.Update()
    out = vtk.vtkPolyData()
    out.ShallowCopy(normals.GetOutput())
    return out
