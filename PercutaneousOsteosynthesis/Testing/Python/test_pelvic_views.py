"""Inlet and outlet tilts fitted to the sacrum: the phantom's upper sacral body is tilted SACRUM_TILT_DEG forward of
vertical, so the beam along it (inlet) is 90 - tilt degrees caudal of the AP beam and the beam perpendicular to it
(outlet) tilt degrees cranial; without foramina the published screening angles are used and said so."""

from __future__ import annotations

import dataclasses

import pytest

from PercutaneousOsteosynthesisLib.bone.pelvic_views import FITTED, SCREENING, SCREENING_INLET_DEG, SCREENING_OUTLET_DEG, fitted_inlet_outlet_deg
from PercutaneousOsteosynthesisLib.phantom.anatomy import SACRUM_TILT_DEG


def test_fitted_to_the_phantom_sacrum(phantom_bone):
    views = fitted_inlet_outlet_deg(phantom_bone)
    assert views["source"] == FITTED
    assert views["inlet_caudal_deg"] == pytest.approx(90.0 - SACRUM_TILT_DEG, abs=2.0)
    assert views["outlet_cranial_deg"] == pytest.approx(SACRUM_TILT_DEG, abs=2.0)


def test_flipped_and_oblique_grids_give_the_same_tilts(anatomy):
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
    from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

    for direction in ("flipped", "oblique"):
        ct, _ = make_phantom(direction=direction)
        views = fitted_inlet_outlet_deg(build_bone_model(ct))
        assert views["inlet_caudal_deg"] == pytest.approx(90.0 - SACRUM_TILT_DEG, abs=2.0), direction


def test_without_foramina_the_screening_angles(phantom_bone):
    no_sacrum = dataclasses.replace(phantom_bone, nogo=[n for n in phantom_bone.nogo if "foramen" not in n.name])
    views = fitted_inlet_outlet_deg(no_sacrum)
    assert views == {"inlet_caudal_deg": SCREENING_INLET_DEG, "outlet_cranial_deg": SCREENING_OUTLET_DEG, "source": SCREENING}
