"""4x4 matrices between numpy and VTK."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonMath import vtkMatrix4x4  # not the whole vtk package: its import takes longer than a bone surface


def to_vtk_matrix(a) -> vtkMatrix4x4:
    """vtkMatrix4x4 holding the 4x4 array ``a``."""
    a = np.asarray(a, float)
    m = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            m.SetElement(r, c, float(a[r, c]))
    return m


def from_vtk_matrix(m) -> np.ndarray:
    """4x4 numpy array of a vtkMatrix4x4."""
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])
