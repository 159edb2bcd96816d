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


def test_pictures_show_the_pelvis_without_the_forearms_beside_it(real_bone_1mm):
    """The Visible Human's forearms lie beside and in front of the pelvis (two bones of about 100 mL the model does
    not recognise): the pictures' surface leaves them out, so they neither hide the pelvis in the AP view nor shrink
    it in the frame; it keeps every recognised bone (sacrum, both hip bones and L5 above the sacrum) whole."""
    from vtk.util.numpy_support import vtk_to_numpy

    bone = real_bone_1mm
    arms = [c for c in bone.components if c["kind"] == "other" and c["volume_ml"] > 50]
    assert len(arms) == 2
    pelvis = [c for c in bone.components if c["kind"] in ("sacrum", "hip bone", "lumbar spine")]
    assert len(pelvis) == 4
    full = vtk_to_numpy(bone.surface_polydata_lps().GetPoints().GetData())
    pts = vtk_to_numpy(bone.pelvis_surface_polydata_lps().GetPoints().GetData())
    lo = np.min([c["bounds_lps"][0] for c in pelvis], axis=0)
    hi = np.max([c["bounds_lps"][1] for c in pelvis], axis=0)
    assert (pts >= lo - 2.0).all() and (pts <= hi + 2.0).all()  # nothing of the forearms
    assert full[:, 0].min() < lo[0] - 30.0 and full[:, 0].max() > hi[0] + 30.0  # which the whole surface holds
    for c in pelvis:  # every recognised bone is drawn: its own extent is reached by the pictures' surface
        inside = np.all((pts >= np.asarray(c["bounds_lps"][0]) - 1.0) & (pts <= np.asarray(c["bounds_lps"][1]) + 1.0), axis=1)
        assert inside.sum() > 1000
