"""Location of the extension's ``Resources`` folder (implant catalogs, icons, UI files)."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "Resources"


def resource_path(*parts) -> Path:
    """Path of ``PercutaneousOsteosynthesis/Resources/<parts...>`` (not checked for existence)."""
    return RESOURCES_DIR.joinpath(*map(str, parts))
