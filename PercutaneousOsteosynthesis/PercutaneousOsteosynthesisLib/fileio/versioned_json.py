"""Reading a versioned JSON document of this project (``format_version``, a list under a known key) with errors that
name the file: missing, unreadable, not this kind of document, a malformed or a newer format version."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import PosteoInputError


def read_versioned_json(path, what: str, list_key: str, newest: int, list_required: bool = True) -> tuple[dict, int]:
    """(document, its format version) of the ``what`` file at ``path`` ("report", "corridors"), which holds a list
    under ``list_key`` (or none, unless ``list_required``) and a ``format_version`` from 1 to ``newest``."""
    path = Path(path)
    if not path.is_file():
        raise PosteoInputError(path, f"{what} file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise PosteoInputError(path, f"not a readable JSON {what} ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(list_key, None if list_required else []), list):
        raise PosteoInputError(path, f"not a PercutaneousOsteosynthesis {what} (no {list_key} list)")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PosteoInputError(path, f"{what} format_version must be an integer >= 1, got {version!r}")
    if version > newest:
        raise PosteoInputError(path, f"{what} format {version} was written by a newer PercutaneousOsteosynthesis (this one "
                                     f"reads up to {newest}): update the extension")
    return doc, version
