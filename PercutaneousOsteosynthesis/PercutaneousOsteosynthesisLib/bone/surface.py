"""Closed triangulated surfaces of masks, in LPS mm (VTK classes imported from their own modules, not the whole vtk
package: its import takes longer than a bone surface).

VTK's wheels from PyPI start with the sequential SMP backend; flying edges, the smoothing and the normals run on all
cores with its STDThread backend (half the time of a bone surface on 2 cores, the same points and triangles), which is
chosen when the sequential one is in use (Slicer chooses its own backend)."""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import VTK_UNSIGNED_CHAR, vtkSMPTools
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import vtkPolyDataNormals, vtkReverseSense, vtkWindowedSincPolyDataFilter
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D, vtkTransformPolyDataFilter

from ..geometry.bounding_box import nonzero_ranges
from ..geometry.frames import ImageGeometry
from ..geometry.vtk_matrix import to_vtk_matrix


def _padded_image(mask: np.ndarray):
    """The mask (bool, or labels: inside where nonzero) padded by one background voxel, as vtkImageData holding only
    the padded mask's bounding box (plus that background layer) placed at its own indices: what flying edges would
    see of the whole padded array."""
    nz = nonzero_ranges(mask)
    lo = [int(n[0]) for n in nz] if nz else [0, 0, 0]  # k, j, i of the box's first mask voxel; padded: its voxel before
    hi = [int(n[-1]) + 1 for n in nz] if nz else list(mask.shape)
    m = np.zeros([b - a + 2 for a, b in zip(lo, hi)], np.uint8)
    np.not_equal(mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], 0, out=m[1:-1, 1:-1, 1:-1].view(bool))
    img = vtkImageData()
    img.SetDimensions(m.shape[2], m.shape[1], m.shape[0])
    img.SetOrigin(float(lo[2]), float(lo[1]), float(lo[0]))  # padded index of the box's first voxel
    img.GetPointData().SetScalars(numpy_support.numpy_to_vtk(m.ravel(), deep=True, array_type=VTK_UNSIGNED_CHAR))
    return img


def _threaded_vtk() -> None:
    """The STDThread SMP backend instead of the sequential one (see module doc)."""
    if vtkSMPTools.GetBackend() == "Sequential":
        vtkSMPTools.SetBackend("STDThread")


def _surface_pipeline(image, matrix, smooth_iterations: int):
    """Flying edges of a padded mask image (see :func:`_padded_image`), smoothed, moved to LPS by ``matrix`` (4x4,
    padded index -> LPS): the triangles as flying edges orients them."""
    _threaded_vtk()
    fe = vtkDiscreteFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, 1)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    smoother = vtkWindowedSincPolyDataFilter()
    smoother.SetInputConnection(fe.GetOutputPort())
    smoother.SetNumberOfIterations(smooth_iterations)
    smoother.SetPassBand(0.1)
    smoother.BoundarySmoothingOff()
    smoother.FeatureEdgeSmoothingOff()
    smoother.NonManifoldSmoothingOn()
    smoother.NormalizeCoordinatesOn()
    tr = vtkTransform()
    tr.SetMatrix(to_vtk_matrix(matrix))
    tf = vtkTransformPolyDataFilter()
    tf.SetInputConnection(smoother.GetOutputPort())
    tf.SetTransform(tr)
    tf.Update()
    return tf.GetOutput()


def _points_inward(matrix, smooth_iterations: int) -> bool:
    """Whether the pipeline's triangles are ordered clockwise seen from outside (inward normals) for this index -> LPS
    matrix: flying edges orient every triangle alike and the matrix may mirror them, so the signed volume of one
    voxel's surface says it for any mask (cheaper than that of the whole surface, or than vtkPolyDataNormals'
    consistency and auto-orientation passes)."""
    return _signed_volume(_surface_pipeline(_padded_image(np.ones((1, 1, 1), bool)), matrix, smooth_iterations)) < 0


def mask_surface_lps(mask: np.ndarray, geometry: ImageGeometry, smooth_iterations: int = 15):
    """A closed, consistently oriented surface (vtkPolyData, LPS mm, outward normals) of a ``[k, j, i]`` mask (bool, or
    labels: inside where nonzero)."""
    # index (with the padding) -> LPS
    mat = geometry.ijk_to_lps_matrix() @ np.array([[1, 0, 0, -1], [0, 1, 0, -1], [0, 0, 1, -1], [0, 0, 0, 1]], float)
    surface = _surface_pipeline(_padded_image(mask), mat, smooth_iterations)
    if surface.GetNumberOfPolys() and _points_inward(mat, smooth_iterations):
        reverse = vtkReverseSense()
        reverse.SetInputData(surface)
        reverse.ReverseCellsOn()
        reverse.ReverseNormalsOff()
        reverse.Update()
        surface = reverse.GetOutput()
    normals = vtkPolyDataNormals()
    normals.SetInputData(surface)
    normals.ConsistencyOff()
    normals.AutoOrientNormalsOff()
    normals.SplittingOff()
    normals.Update()
    out = vtkPolyData()
    out.ShallowCopy(normals.GetOutput())
    return out


def _signed_volume(poly) -> float:
    """Volume enclosed by a triangulated surface, positive when its triangles are ordered counter-clockwise seen
    from outside (outward normals)."""
    if poly.GetNumberOfPolys() == 0:
        return 0.0
    pts = numpy_support.vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
    cells = numpy_support.vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    a, b, c = pts[cells[:, 0]], pts[cells[:, 1]], pts[cells[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
