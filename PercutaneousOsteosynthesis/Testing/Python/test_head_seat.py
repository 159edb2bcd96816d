"""Screw heads: diameter from the implant catalog (models and report), and the near cortex under the head with the
washer advice on thin (osteoporotic) cortex, against box bones of known cortex thickness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.screws.head_seat import WASHER_ADVISED_BELOW_MM, head_seat
from PercutaneousOsteosynthesisLib.screws.model import PART_HEAD, head_diameter_mm, screw_polydata_lps
from PercutaneousOsteosynthesisLib.screws.screw import Screw

CATALOG = Path(__file__).resolve().parents[2] / "Resources" / "Implants" / "cannulated_screws.json"
HALF = np.array([20.0, 15.0, 15.0])


def _box_ct(cortex_mm: float) -> CTVolume:
    """A box bone (cortex 1000 HU of the given thickness, cancellous 150 HU) in muscle, 1 mm voxels, 64 sub-samples
    per voxel for the partial volume of the faces."""
    sp, lo, size = 1.0, np.array([-30.0, -25.0, -25.0]), (61, 51, 51)
    geo = ImageGeometry(size, (sp,) * 3, tuple(lo), (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    centres = lo + sp * np.stack([i, j, k], axis=-1)
    acc = np.zeros(size[::-1])
    off = (np.arange(4) - 1.5) / 4.0
    for dx in off:
        for dy in off:
            for dz in off:
                d = np.max(np.abs(centres + [dx, dy, dz]) - HALF, axis=-1)
                acc += np.where(d <= -cortex_mm, 150.0, np.where(d <= 0, 1000.0, 40.0))
    return CTVolume((acc / 64).astype(np.float32), geo, f"box, cortex {cortex_mm} mm")


@pytest.mark.parametrize("cortex_mm", [0.8, 3.0])
def test_near_cortex_and_washer_advice(cortex_mm):
    ct = _box_ct(cortex_mm)
    screw = Screw("s", [-20.0, 0.0, 0.0], [10.0, 0.0, 0.0], 7.3)
    seat = head_seat(screw, ct, bone_threshold_hu=200.0)
    # a plate thinner than a voxel never reaches 600 HU: its thickness is read from its mass
    assert seat["near_cortex_mm"] == pytest.approx(cortex_mm, abs=0.25)
    assert seat["washer_advised"] is (cortex_mm < WASHER_ADVISED_BELOW_MM)
    planned = Screw("w", [-20.0, 0.0, 0.0], [10.0, 0.0, 0.0], 7.3, washer=True)
    assert head_seat(planned, ct, 200.0)["washer_advised"] is False


def test_head_diameter_comes_from_the_catalog():
    families = json.loads(CATALOG.read_text())["families"]
    fam = next(f for f in families if f["diameter_mm"] == 7.3)
    screw = Screw("s", [0, 0, 0], [0, 0, 60.0], 7.3, implant_id="CS-7.3-T16-060")
    assert head_diameter_mm(screw) == pytest.approx(fam["head_diameter_mm"])
    poly = screw_polydata_lps(screw)
    from vtk.util import numpy_support

    pts = numpy_support.vtk_to_numpy(poly.GetPoints().GetData())
    part = numpy_support.vtk_to_numpy(poly.GetPointData().GetArray("part"))
    head = pts[part == PART_HEAD]
    assert np.hypot(head[:, 0], head[:, 1]).max() == pytest.approx(fam["head_diameter_mm"] / 2, rel=0.01)
    assert head_diameter_mm(Screw("plain", [0, 0, 0], [0, 0, 60.0], 7.3)) == pytest.approx(1.6 * 7.3)
