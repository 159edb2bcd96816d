"""Location of the extension's ``Resources`` folder (implant catalogs, icons, UI files).

Slicer's layout keeps ``Resources/`` beside the Lib package (``PercutaneousOsteosynthesis/Resources``): the package is
found with ``importlib.resources`` (so a relocated or frozen install works), and its sibling folder is used.  A regular
(non-editable) pip install ships the same files as data-files under ``<prefix>/share/percutaneous-osteosynthesis``.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

PACKAGE = __name__.split(".")[0]


def _candidates() -> tuple[Path, ...]:
    return (
        Path(str(files(PACKAGE))).parent / "Resources",  # the source tree, an editable install, and Slicer
        Path(sys.prefix) / "share" / "percutaneous-osteosynthesis" / "Resources",  # a regular pip install (data-files)
    )


RESOURCES_DIR = next((p for p in _candidates() if p.is_dir()), _candidates()[0])


def resource_path(*parts) -> Path:
    """Path of ``PercutaneousOsteosynthesis/Resources/<parts...>`` (not checked for existence)."""
    return RESOURCES_DIR.joinpath(*map(str, parts))
