"""Image geometry and coordinate frames.

``ImageGeometry`` maps voxel indices (i, j, k) to physical LPS millimetres:
``p_lps = origin_lps + direction @ (spacing * ijk)``, the ITK/SimpleITK convention.  numpy arrays
of image data are indexed ``[k, j, i]``.  Slicer's scene uses RAS: ``ras = lps * (-1, -1, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def lps_to_ras(points_lps) -> np.ndarray:
    """Convert LPS points (..., 3) to RAS (the same transform both ways)."""
    p = np.asarray(points_lps, dtype=float)
    return p * np.array([-1.0, -1.0, 1.0])


def ras_to_lps(points_ras) -> np.ndarray:
    """Convert RAS points (..., 3) to LPS."""
    return lps_to_ras(points_ras)


@dataclass(frozen=True)
class ImageGeometry:
    """Voxel grid of an image: size (i, j, k), spacing (mm), origin (LPS mm), direction (3x3, columns = LPS axes of i, j, k)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin_lps: tuple[float, float, float]
    direction: tuple[float, ...]  # row-major 3x3, as SimpleITK's GetDirection()

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape_kji(self) -> tuple[int, int, int]:
        """numpy shape of the voxel array, ``(k, j, i)``."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def ijk_to_lps_matrix(self) -> np.ndarray:
        """4x4 homogeneous matrix from continuous index (i, j, k) to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix @ np.diag(self.spacing)
        m[:3, 3] = self.origin_lps
        return m

    def ijk_to_ras_matrix(self) -> np.ndarray:
        """4x4 matrix from continuous index (i, j, k) to RAS mm (what Slicer's volume nodes hold)."""
        m = self.ijk_to_lps_matrix()
        m[:3, :] = LPS_TO_RAS @ m[:3, :]
        return m

    def ijk_to_lps(self, ijk) -> np.ndarray:
        """Continuous voxel indices (..., 3) in (i, j, k) order to LPS mm."""
        ijk = np.asarray(ijk, dtype=float)
        a = self.direction_matrix @ np.diag(self.spacing)
        return ijk @ a.T + np.asarray(self.origin_lps)

    def lps_to_ijk(self, points_lps) -> np.ndarray:
        """LPS mm points (..., 3) to continuous voxel indices in (i, j, k) order."""
        p = np.asarray(points_lps, dtype=float) - np.asarray(self.origin_lps)
        a_inv = np.linalg.inv(self.direction_matrix @ np.diag(self.spacing))
        return p @ a_inv.T

    def contains_lps(self, points_lps, margin_voxels: float = 0.0) -> np.ndarray:
        """True for LPS points whose continuous index lies inside the grid (voxel centres from 0 to size-1)."""
        ijk = self.lps_to_ijk(points_lps)
        hi = np.asarray(self.size, dtype=float) - 1.0
        return np.all((ijk >= -margin_voxels) & (ijk <= hi + margin_voxels), axis=-1)

    def bounds_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned LPS bounding box (min, max) of the voxel centres."""
        corners = np.array([[i, j, k] for i in (0, self.size[0] - 1) for j in (0, self.size[1] - 1) for k in (0, self.size[2] - 1)], float)
        p = self.ijk_to_lps(corners)
        return p.min(axis=0), p.max(axis=0)

    def to_dict(self) -> dict:
        return {
            "size": list(map(int, self.size)),
            "spacing_mm": [float(s) for s in self.spacing],
            "origin_lps": [float(o) for o in self.origin_lps],
            "direction": [float(d) for d in self.direction],
            "coordinate_system": "LPS",
        }

    def cropped(self, lo_ijk, hi_ijk) -> ImageGeometry:
        """Geometry of the sub-grid ``[lo, hi)`` (i, j, k integer bounds)."""
        lo = np.asarray(lo_ijk, int)
        hi = np.asarray(hi_ijk, int)
        origin = self.ijk_to_lps(lo.astype(float))
        return ImageGeometry(tuple(int(v) for v in hi - lo), self.spacing, tuple(float(v) for v in origin), self.direction)
