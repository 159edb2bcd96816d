"""Screw roles: the osseous fixation pathway a screw is planned in (a type, not a display name).

A role decides which metrics apply: femoral-neck screws get the neck-set metrics (parallelism, spread, tip-apex
distance) whatever their names.  Roles are stored in the plan file and in report.json.
"""

from __future__ import annotations

from ..errors import PosteoInputError

ILIOSACRAL = "iliosacral"
TRANSSACRAL = "transsacral"
SUPRA_ACETABULAR = "supra-acetabular"
ANTERIOR_COLUMN = "anterior column"
POSTERIOR_COLUMN = "posterior column"
FEMORAL_NECK = "femoral neck"
ILIAC_CREST = "iliac crest"
OTHER = "other"
ROLES = (ILIOSACRAL, TRANSSACRAL, SUPRA_ACETABULAR, ANTERIOR_COLUMN, POSTERIOR_COLUMN, FEMORAL_NECK, ILIAC_CREST, OTHER)

# words in a screw name that imply its role, for plans written before roles existed
_LEGACY_NAME_WORDS = ((FEMORAL_NECK, ("neck",)), (TRANSSACRAL, ("transsacral", "trans-sacral")),
                      (ILIOSACRAL, ("iliosacral", "ilio-sacral")), (SUPRA_ACETABULAR, ("supra-acetabular", "supraacetabular", "lc-ii", "lc2")),
                      (ANTERIOR_COLUMN, ("anterior column",)), (POSTERIOR_COLUMN, ("posterior column",)))


def _key(text: str) -> str:
    return " ".join(str(text).strip().lower().replace("_", " ").replace("-", " ").split())


_BY_KEY = {_key(r): r for r in ROLES}


def parse_role(text, source: str = "screw role") -> str:
    """The role named by ``text`` (case, hyphens, underscores and spaces are free: "femoral-neck", "Femoral_Neck");
    None or "" gives ``OTHER``; anything else raises PosteoInputError naming ``source``."""
    if text is None or str(text).strip() == "":
        return OTHER
    role = _BY_KEY.get(_key(text))
    if role is None:
        raise PosteoInputError(source, f"unknown screw role {str(text)[:40]!r} (one of: {', '.join(ROLES)})")
    return role


def role_from_name(name: str) -> str:
    """The role a legacy screw name implies ("left femoral neck 1" -> femoral neck), else ``OTHER``."""
    n = _key(name)
    for role, words in _LEGACY_NAME_WORDS:
        if any(_key(w) in n for w in words):
            return role
    return OTHER


def with_role(screws, role: str) -> list:
    """The screws of ``role``."""
    return [s for s in screws if getattr(s, "role", OTHER) == role]
