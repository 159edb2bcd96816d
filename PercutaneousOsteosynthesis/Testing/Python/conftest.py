"""Shared fixtures: the built-in phantom and its bone model (built once per session), the real CTs in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def phantom():
    """(CTVolume, truth dict) of the default phantom (1 mm, oblique and flipped direction matrix)."""
    from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

    return make_phantom()


@pytest.fixture(scope="session")
def phantom_bone(phantom):
    """The bone model of the default phantom."""
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model

    return build_bone_model(phantom[0])


@pytest.fixture(scope="session")
def anatomy():
    from PercutaneousOsteosynthesisLib.phantom.anatomy import build_anatomy

    return build_anatomy()


def shared_ct(name: str) -> Path:
    path = SHARED_DATA / "ct" / name
    if not path.exists():
        pytest.skip(f"real CT not available: {path} (../shared/data is present in CI only)")
    return path


@pytest.fixture(scope="session")
def real_ct_2mm():
    from PercutaneousOsteosynthesisLib.fileio.volume import read_ct

    return read_ct(shared_ct("vhm_pelvis_2mm_crop.nii.gz"))


@pytest.fixture(scope="session")
def real_bone_2mm(real_ct_2mm):
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model

    return build_bone_model(real_ct_2mm)


@pytest.fixture(scope="session")
def real_ct_1mm():
    from PercutaneousOsteosynthesisLib.fileio.volume import read_ct

    return read_ct(shared_ct("vhm_pelvis_1mm.nii.gz"))


@pytest.fixture(scope="session")
def real_bone_1mm(real_ct_1mm):
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model

    return build_bone_model(real_ct_1mm)
