"""Closed triangulated surface of a screw (LPS mm) for display.

The surface is a solid of revolution about the screw axis, built from a profile (distance ``s`` from the
entry along the axis, radius ``r``):

* head: cylinder of the implant's head diameter (catalog; ``HEAD_DIAMETER_FACTOR * d`` without one) and height ``HEAD_HEIGHT_FACTOR * d`` behind the entry
  (``s < 0``), pushed further back by the washer when ``screw.washer``;
* washer: disc of diameter ``WASHER_DIAMETER_FACTOR * d`` and thickness ``WASHER_THICKNESS_MM`` on ``-t <= s <= 0``;
* shaft: cylinder of the screw diameter from the entry to the thread;
* thread (the last ``thread_length_mm`` at the tip, whole length when fully threaded): ``n`` V-grooves,
  ``n = max(1, round(thread_length / THREAD_PITCH_MM))``, each going from the screw radius down to
  ``THREAD_CORE_FACTOR * r`` at mid-pitch and back; the tip ring is at the screw radius, closed by a flat cap.

Point and cell data ``part``: 0 shaft, 1 thread, 2 head, 3 washer.  Normals point outward.
"""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray

from ..geometry.vectors import perpendicular_frame
from .screw import Screw

HEAD_DIAMETER_FACTOR = 1.6
HEAD_HEIGHT_FACTOR = 0.6
WASHER_DIAMETER_FACTOR = 1.9
WASHER_THICKNESS_MM = 2.0
THREAD_PITCH_MM = 2.5
THREAD_CORE_FACTOR = 0.8
PART_SHAFT, PART_THREAD, PART_HEAD, PART_WASHER = 0, 1, 2, 3


def head_diameter_mm(screw: Screw, catalog=None) -> float:
    """The head diameter of the screw's implant in the catalog; ``HEAD_DIAMETER_FACTOR`` x d for screws without one."""
    from .implants import default_catalog

    catalog = catalog or default_catalog()
    if screw.implant_id and screw.implant_id in catalog:
        head = float(catalog.get(screw.implant_id).head_diameter_mm)
        if head > 0:
            return head
    return HEAD_DIAMETER_FACTOR * screw.diameter_mm


def head_extent_mm(screw: Screw) -> float:
    """How far the head (and washer) stands out behind the entry point, along the axis (mm)."""
    return HEAD_HEIGHT_FACTOR * screw.diameter_mm + (WASHER_THICKNESS_MM if screw.washer else 0.0)


def screw_profile(screw: Screw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile vertices from the head top to the tip: (s along the axis from entry mm, radius mm, part of the segment that ends there)."""
    r = screw.radius_mm
    length = screw.length_mm
    thread = length if screw.thread_length_mm is None else min(screw.thread_length_mm, length)
    rows = []  # (s, r, part)
    s0 = -head_extent_mm(screw)
    head_r = 0.5 * head_diameter_mm(screw)
    rows.append((s0, head_r, PART_HEAD))
    if screw.washer:
        rows += [(-WASHER_THICKNESS_MM, head_r, PART_HEAD), (-WASHER_THICKNESS_MM, 0.5 * WASHER_DIAMETER_FACTOR * screw.diameter_mm, PART_WASHER),
                 (0.0, 0.5 * WASHER_DIAMETER_FACTOR * screw.diameter_mm, PART_WASHER)]
    else:
        rows.append((0.0, head_r, PART_HEAD))
    rows.append((0.0, r, PART_SHAFT))
    s_thread = length - thread
    if s_thread > 1e-9:
        rows.append((s_thread, r, PART_SHAFT))
    n = max(1, int(round(thread / THREAD_PITCH_MM)))
    pitch = thread / n
    for i in range(n):
        rows.append((s_thread + (i + 0.5) * pitch, THREAD_CORE_FACTOR * r, PART_THREAD))
        rows.append((s_thread + (i + 1) * pitch, r, PART_THREAD))
    a = np.array(rows, float)
    return a[:, 0], a[:, 1], a[:, 2].astype(np.int8)


def screw_polydata_lps(screw: Screw, resolution: int = 24) -> vtk.vtkPolyData:
    """Closed, outward-oriented triangle surface of the screw in LPS mm, with normals and a ``part`` array."""
    n = max(3, int(resolution))
    s, rad, part = screw_profile(screw)
    m = len(s)
    u = screw.direction_lps
    e1, e2 = perpendicular_frame(u)
    theta = 2.0 * np.pi * np.arange(n) / n
    circle = np.cos(theta)[:, None] * e1 + np.sin(theta)[:, None] * e2  # (n, 3)
    rings = screw.entry_lps + s[:, None, None] * u + rad[:, None, None] * circle[None]  # (m, n, 3)
    caps = np.array([screw.entry_lps + s[0] * u, screw.entry_lps + s[-1] * u])
    points = np.vstack([rings.reshape(-1, 3), caps])
    c_head, c_tip = m * n, m * n + 1

    j = np.arange(n)
    jn = (j + 1) % n
    tris, cell_part = [], []
    for k in range(m - 1):
        a, b = k * n, (k + 1) * n
        tris += [np.stack([a + j, a + jn, b + jn], 1), np.stack([a + j, b + jn, b + j], 1)]
        cell_part += [part[k + 1]] * (2 * n)
    tris.append(np.stack([np.full(n, c_head), jn, j], 1))
    tris.append(np.stack([np.full(n, c_tip), (m - 1) * n + j, (m - 1) * n + jn], 1))
    cell_part += [part[0]] * n + [part[-1]] * n
    tris = np.vstack(tris).astype(np.int64)

    point_part = np.concatenate([np.repeat(part, n), [part[0], part[-1]]]).astype(np.int8)
    poly = vtk.vtkPolyData()
    pts = vtk.vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64), deep=True))
    poly.SetPoints(pts)
    cells = vtk.vtkCellArray()
    offsets = np.arange(0, 3 * len(tris) + 1, 3, dtype=np.int64)
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(tris.ravel(), deep=True))
    poly.SetPolys(cells)
    for data, values in ((poly.GetPointData(), point_part), (poly.GetCellData(), np.asarray(cell_part, np.int8))):
        arr = numpy_to_vtk(values, deep=True)
        arr.SetName("part")
        data.AddArray(arr)

    normals = vtk.vtkPolyDataNormals()
    normals.SetInputData(poly)
    normals.SplittingOff()  # keep the surface closed (splitting would duplicate points along sharp edges)
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOff()
    normals.ComputePointNormalsOn()
    normals.ComputeCellNormalsOn()
    normals.Update()
    out = vtk.vtkPolyData()
    out.DeepCopy(normals.GetOutput())
    out.GetPointData().SetActiveScalars("part")
    return out
