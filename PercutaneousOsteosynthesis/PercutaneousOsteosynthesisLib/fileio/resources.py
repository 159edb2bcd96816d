"""Location of the extension's ``Resources`` folder (implant catalogs, icons, UI files)."""

from __future__ import annotations

import sys
from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "Resources",  # the source tree, an editable install, and Slicer
    Path(sys.prefix) / "share" / "percutaneous-osteosynthesis" / "Resources",  # a regular pip install (data-files)
)
RESOURCES_DIR = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])


def resource_path(*parts) -> Path:
    """Path of ``PercutaneousOsteosynthesis/Resources/<parts...>`` (not checked for existence)."""
    return RESOURCES_DIR.joinpath(*map(str, parts))
