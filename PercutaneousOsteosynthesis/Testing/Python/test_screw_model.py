"""Screw surface: closed manifold, outward orientation, extent and volume against analytic values."""

import math

import numpy as np
import pytest
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from PercutaneousOsteosynthesisLib.screws import model as sm
from PercutaneousOsteosynthesisLib.screws.screw import Screw

SCREWS = [
    Screw("partial", [10.0, -5.0, 3.0], [40.0, 60.0, 80.0], 7.3, thread_length_mm=16.0),
    Screw("full+washer", [0.0, 0.0, 0.0], [0.0, 0.0, 45.0], 6.5, thread_length_mm=None, washer=True),
    Screw("t32+washer", [-20.0, 4.0, 1.0], [-90.0, 10.0, -30.0], 4.5, thread_length_mm=32.0, washer=True),
]


def _arrays(poly):
    pts = vtk_to_numpy(poly.GetPoints().GetData()).astype(float)
    conn = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    return pts, conn


def _analytic_volume(s: Screw) -> float:
    d, r, L = s.diameter_mm, s.radius_mm, s.length_mm
    T = L if s.thread_length_mm is None else s.thread_length_mm
    head = math.pi * (0.5 * sm.HEAD_DIAMETER_FACTOR * d) ** 2 * sm.HEAD_HEIGHT_FACTOR * d
    washer = math.pi * (0.5 * sm.WASHER_DIAMETER_FACTOR * d) ** 2 * sm.WASHER_THICKNESS_MM if s.washer else 0.0
    shaft = math.pi * r * r * (L - T)
    n = max(1, round(T / sm.THREAD_PITCH_MM))
    p = T / n
    rc = sm.THREAD_CORE_FACTOR * r
    # each tooth: two cone frustums of height p/2 between radii r and rc
    thread = n * 2 * math.pi * (p / 2) / 3 * (r * r + r * rc + rc * rc)
    return head + washer + shaft + thread


@pytest.mark.parametrize("screw", SCREWS, ids=lambda s: s.name)
def test_closed_manifold_with_normals(screw):
    poly = sm.screw_polydata_lps(screw)
    fe = vtk.vtkFeatureEdges()
    fe.SetInputData(poly)
    fe.BoundaryEdgesOn()
    fe.NonManifoldEdgesOn()
    fe.FeatureEdgesOff()
    fe.ManifoldEdgesOff()
    fe.Update()
    assert fe.GetOutput().GetNumberOfCells() == 0
    assert poly.GetPointData().GetNormals() is not None
    pts, tri = _arrays(poly)
    # every edge used exactly twice, once in each direction (consistent orientation)
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    directed = {tuple(e) for e in edges.tolist()}
    assert len(directed) == len(edges)
    assert all((b, a) in directed for a, b in directed)
    # cell normals agree with the winding
    v0, v1, v2 = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    cross = np.cross(v1 - v0, v2 - v0)
    cn = vtk_to_numpy(poly.GetCellData().GetNormals())
    assert np.all(np.einsum("ij,ij->i", cross, cn) > 0)


@pytest.mark.parametrize("screw", SCREWS, ids=lambda s: s.name)
def test_volume(screw):
    poly = sm.screw_polydata_lps(screw)
    pts, tri = _arrays(poly)
    signed = np.einsum("ij,ij->i", pts[tri[:, 0]], np.cross(pts[tri[:, 1]], pts[tri[:, 2]])).sum() / 6.0
    expected = _analytic_volume(screw)
    assert signed > 0  # outward orientation
    assert signed == pytest.approx(expected, rel=0.03)
    mp = vtk.vtkMassProperties()
    mp.SetInputData(poly)
    mp.Update()
    assert mp.GetVolume() == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("screw", SCREWS, ids=lambda s: s.name)
def test_extent_and_parts(screw):
    poly = sm.screw_polydata_lps(screw)
    pts, _ = _arrays(poly)
    u = (screw.tip_lps - screw.entry_lps) / np.linalg.norm(screw.tip_lps - screw.entry_lps)
    rel = pts - screw.entry_lps
    s = rel @ u
    rho = np.linalg.norm(rel - s[:, None] * u, axis=1)
    d = screw.diameter_mm
    back = sm.HEAD_HEIGHT_FACTOR * d + (sm.WASHER_THICKNESS_MM if screw.washer else 0.0)
    r_max = 0.5 * d * max(sm.HEAD_DIAMETER_FACTOR, sm.WASHER_DIAMETER_FACTOR if screw.washer else 0.0)
    assert s.min() == pytest.approx(-back, abs=1e-9) and s.max() == pytest.approx(screw.length_mm, abs=1e-9)
    assert rho.max() == pytest.approx(r_max, abs=1e-9)
    tip_ring = (np.abs(s - screw.length_mm) < 1e-6) & (rho > 1e-6)
    assert tip_ring.sum() == 24
    np.testing.assert_allclose(rho[tip_ring], screw.radius_mm, atol=1e-9)
    part = vtk_to_numpy(poly.GetPointData().GetArray("part"))
    T = screw.length_mm if screw.thread_length_mm is None else screw.thread_length_mm
    assert np.all(s[part == 1] >= screw.length_mm - T - 1e-6)
    assert np.all(s[part == 2] <= 1e-9) and np.all(rho[part == 0] <= screw.radius_mm + 1e-9)
    assert set(np.unique(part)) >= {1, 2}
    # shaft radius never exceeds the nominal radius
    along = (s > 1e-6)
    assert rho[along].max() == pytest.approx(screw.radius_mm, abs=1e-9)
