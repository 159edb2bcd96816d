"""Parsers of the command-line plan items (screws, lesion seeds, cement injections); points are LPS mm."""

from __future__ import annotations

import math

from ..errors import PosteoInputError

SCREW_FORMAT = "NAME:IMPLANT_ID:EX,EY,EZ:TX,TY,TZ[:ROLE]"


def parse_screw_arg(text: str, catalog=None):
    """A screw from ``NAME:IMPLANT_ID:EX,EY,EZ:TX,TY,TZ[:ROLE]`` (LPS mm), its length snapped to the catalog.
    ROLE (see ``screws.roles``, e.g. ``femoral-neck``, ``iliosacral``) defaults to the one the name implies."""
    from ..screws.implants import default_catalog, screw_from_implant
    from ..screws.roles import parse_role, role_from_name

    where = f"--screw {text!r}"
    body, role_text = str(text), None
    head, sep, last = body.rpartition(":")
    if sep and "," not in last and head.count(":") >= 3:  # a fifth field without commas: the role
        body, role_text = head, last
    parts = body.rsplit(":", 3)
    if len(parts) != 4 or not parts[0].strip():
        raise PosteoInputError(where, f"expected {SCREW_FORMAT} (LPS mm)")
    name, implant_id, e_txt, t_txt = (p.strip() for p in parts)
    points = [parse_point(e_txt, where, "entry"), parse_point(t_txt, where, "tip")]
    role = parse_role(role_text, where) if role_text is not None else role_from_name(name)
    cat = catalog if catalog is not None else default_catalog()
    try:
        return screw_from_implant(name, cat.get(implant_id), points[0], points[1], catalog=cat, role=role)
    except PosteoInputError as exc:
        raise PosteoInputError(where, exc.problem if exc.source.startswith("screw") else str(exc)) from None


def parse_point(text: str, where: str, what: str = "point"):
    """Three finite comma-separated numbers (LPS mm) from a command-line argument ``where``."""
    try:
        xyz = [float(v) for v in text.split(",")]
    except ValueError:
        raise PosteoInputError(where, f"{what} must be three numbers separated by commas, got {text!r}") from None
    if len(xyz) != 3 or not all(math.isfinite(v) for v in xyz):
        raise PosteoInputError(where, f"{what} must be three finite numbers separated by commas, got {text!r}")
    return xyz


def parse_lesion_arg(text: str):
    """A lesion seed from ``NAME:X,Y,Z[:PAIN]`` (LPS mm; pain mild|moderate|functional for the Mirels score)."""
    from ..plan.model import PAIN_LEVELS, LesionSeed

    where = f"--lesion-seed {text!r}"
    parts = str(text).split(":")
    if len(parts) not in (2, 3) or not parts[0].strip():
        raise PosteoInputError(where, "expected NAME:X,Y,Z or NAME:X,Y,Z:PAIN (LPS mm)")
    pain = parts[2].strip() if len(parts) == 3 else None
    if pain is not None and pain not in PAIN_LEVELS:
        raise PosteoInputError(where, f"pain must be one of {', '.join(PAIN_LEVELS)}, got {pain!r}")
    return LesionSeed(parts[0].strip(), parse_point(parts[1], where), pain)


def parse_cement_arg(text: str):
    """A cement injection from ``NAME:X,Y,Z:VOLUME_ML`` (LPS mm)."""
    from ..plan.model import CementInjection

    where = f"--cement {text!r}"
    parts = str(text).split(":")
    if len(parts) != 3 or not parts[0].strip():
        raise PosteoInputError(where, "expected NAME:X,Y,Z:VOLUME_ML (LPS mm, mL)")
    try:
        volume = float(parts[2])
    except ValueError:
        raise PosteoInputError(where, f"volume must be a number of mL, got {parts[2]!r}") from None
    try:
        return CementInjection(parts[0].strip(), parse_point(parts[1], where), volume)
    except PosteoInputError as exc:
        raise PosteoInputError(where, exc.problem) from None
