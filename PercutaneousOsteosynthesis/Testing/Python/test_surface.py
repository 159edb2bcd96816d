"""Closed surfaces of masks: outward normals and the enclosed volume, on identity, flipped and oblique grids."""

import numpy as np
import pytest
import vtk
from vtk.util import numpy_support

from PercutaneousOsteosynthesisLib.bone.surface import mask_surface_lps
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.phantom.ct import DIRECTIONS


@pytest.mark.parametrize("direction", ["identity", "flipped", "oblique"])
def test_sphere_surface_points_outward(direction):
    d = DIRECTIONS[direction]
    geo = ImageGeometry((40, 40, 40), (1.0, 1.0, 1.0), tuple(-d @ np.full(3, 19.5)), tuple(d.ravel()))  # centre at LPS 0
    k, j, i = np.meshgrid(*[np.arange(n) for n in geo.shape_kji], indexing="ij")
    lps = geo.ijk_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]).astype(float))
    mask = (np.linalg.norm(lps, axis=1) <= 12.0).reshape(geo.shape_kji)
    poly = mask_surface_lps(mask, geo)
    pts = numpy_support.vtk_to_numpy(poly.GetPoints().GetData())
    normals = numpy_support.vtk_to_numpy(poly.GetPointData().GetNormals())
    assert np.mean(np.einsum("ij,ij->i", normals, pts) > 0) > 0.99
    mass = vtk.vtkMassProperties()
    mass.SetInputData(poly)
    mass.Update()
    assert mass.GetVolume() == pytest.approx(4 / 3 * np.pi * 12.0**3, rel=0.05)
