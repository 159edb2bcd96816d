"""Exact confirmation of a screw's clearance on the bone surface mesh (LPS mm).

The distance from each axis sample to the closed bone surface (vtkPolyData, LPS) is measured exactly on the
triangles (``vtkImplicitPolyDataDistance``, evaluated for all samples in one call); its sign comes from
``inside_test(points) -> bool array`` (default: the bone model's signed distance field < 0), because the
sign of a nearest-triangle test is unreliable at sharp edges.  Profile, entry zone, minimum, breach length
and grade follow :mod:`.clearance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy

from ..errors import PosteoInputError
from .clearance import grade_of, summarize_profile
from .screw import Screw


class MeshDistance:
    """Unsigned distance (mm) from LPS points to a surface mesh; build once per mesh, call many times."""

    def __init__(self, surface_polydata_lps):
        if surface_polydata_lps is None or surface_polydata_lps.GetNumberOfCells() == 0:
            raise PosteoInputError("bone surface", "the surface mesh is empty")
        self._impl = vtk.vtkImplicitPolyDataDistance()
        self._impl.SetInput(surface_polydata_lps)

    def __call__(self, points_lps) -> np.ndarray:
        p = np.ascontiguousarray(np.asarray(points_lps, float).reshape(-1, 3))
        out = vtk.vtkDoubleArray()
        self._impl.FunctionValue(numpy_to_vtk(p, deep=True), out)
        return np.abs(vtk_to_numpy(out).astype(float))


def bone_inside_test(bone):
    """Inside test from the bone model: signed distance field < 0 (envelope + crossable joints)."""
    return lambda pts: bone.signed_distance_lps(pts) < 0


@dataclass
class ExactClearance:
    min_clearance_mm: float
    min_clearance_at_mm: float
    breach_length_mm: float
    grade: str
    profile_s_mm: np.ndarray
    profile_clearance_mm: np.ndarray


def exact_min_clearance(screw: Screw, surface_polydata_lps, inside_test, margin_mm: float = 1.0, step_mm: float = 0.5,
                        entry_zone_max_mm: float = 10.0, distance: MeshDistance | None = None) -> ExactClearance:
    """Clearance of ``screw`` measured on the mesh (see module doc).  Pass ``distance`` (a :class:`MeshDistance`
    of the same mesh) to reuse its locator across screws."""
    dist = distance if distance is not None else MeshDistance(surface_polydata_lps)
    s, pts = screw.axis_points_lps(min(step_mm, 0.5))
    d = dist(pts)
    signed = np.where(np.asarray(inside_test(pts), bool), -d, d)
    clearance = -signed - screw.radius_mm
    cmin, at, breach, _ = summarize_profile(s, clearance, entry_zone_max_mm, screw.radius_mm)
    return ExactClearance(cmin, at, breach, grade_of(cmin, margin_mm), s, clearance)


def confirm_exact(screws, bone, margin_mm: float = 1.0, surface_polydata_lps=None) -> list[dict]:
    """Each screw's clearance measured again on the bone surface mesh (``posteo plan --exact``): a list of
    ``{"min_clearance_mm", "min_clearance_at_mm", "breach_length_mm", "grade"}`` in the order of ``screws``.
    The mesh is the bone envelope's surface (LPS) unless one is given."""
    if surface_polydata_lps is None:
        from ..bone.surface import mask_surface_lps

        surface_polydata_lps = mask_surface_lps(bone.envelope, bone.geometry)
    dist, inside = MeshDistance(surface_polydata_lps), bone_inside_test(bone)
    out = []
    for screw in screws:
        x = exact_min_clearance(screw, surface_polydata_lps, inside, margin_mm, distance=dist)
        out.append({"min_clearance_mm": float(x.min_clearance_mm), "min_clearance_at_mm": float(x.min_clearance_at_mm),
                    "breach_length_mm": float(x.breach_length_mm), "grade": x.grade})
    return out
