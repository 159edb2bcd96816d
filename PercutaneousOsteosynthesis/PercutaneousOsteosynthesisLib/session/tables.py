"""The rows of the planning tables (screws, lesions, cement, CT guidance) as plain text, GUI-free: the Slicer
module and the web planner show them, pytest checks them.  Texts come from ``report.format``."""

from __future__ import annotations

from ..errors import PosteoInputError
from ..palette import grade_rgb
from ..report.format import breakthrough_text, fill_text, fracture_risk_text, leak_text, mirels_text, number, perforation_text
from ..screws.clearance import perforation_grade
from .screw_nodes import INVALID

SCREW_COLUMNS = ("Name", "Role", "Implant", "Length (mm)", "Min clearance (mm)", "Grade", "Perforation", "No-go structures",
                 "Skin to tip (mm)", "Gantry tilt (deg)")
SCREW_GRADE_COLUMN = SCREW_COLUMNS.index("Grade")
LESION_COLUMNS = ("Name", "Volume (mL)", "Type", "Breakthrough", "Mirels", "Fracture risk", "Pain")
CEMENT_COLUMNS = ("Name", "Volume (mL)", "Lesion fill", "Leak risk")
CORRIDOR_COLUMNS = ("Pathway", "Width (mm)", "Screw", "Min clearance (mm)", "Grade", "Skin to tip (mm)", "Gantry tilt (deg)",
                    "No safe corridor: why")
CORRIDOR_GRADE_COLUMN = CORRIDOR_COLUMNS.index("Grade")
GUIDANCE_COLUMNS = ("Screw", "Skin entry LPS (mm)", "Skin to bone (mm)", "Skin to tip (mm)", "Gantry tilt (deg)",
                    "Double oblique", "In-plane angle (deg)", "Table position (mm)", "C-arm cranio-caudal (deg)",
                    "C-arm LAO/RAO (deg)", "C-arm progress view LAO/RAO (deg)")


def guidance_by_name(session) -> dict:
    """``{screw name: guidance dict, or the PosteoInputError that prevented it}``: computed once for both tables."""
    out = {}
    for name in session.screw_names():
        try:
            out[name] = session.guidance(name)
        except PosteoInputError as exc:
            out[name] = exc
    return out


def screw_rows(session, guidance: dict | None = None) -> list[dict]:
    """``{"cells": [...SCREW_COLUMNS], "colour": rgb of the grade}`` per screw (grade of the last check);
    ``guidance``: :func:`guidance_by_name`, when the caller already has it."""
    guidance = guidance_by_name(session) if guidance is None else guidance
    rows = []
    for name in session.screw_names():
        screw = session.screw(name)
        grade = session.grade(name) or INVALID
        check = session.stored_check(name)
        g = guidance.get(name)
        depth, tilt = (number(g["skin_to_tip_mm"]), number(g["gantry_tilt_deg"])) if isinstance(g, dict) else ("", "")
        rows.append({"cells": [name, screw.role, screw.implant_id or "", number(screw.length_mm),
                               number(check["min_clearance_mm"]) if check else "", grade,
                               perforation_text(perforation_grade(check["min_clearance_mm"]), max(0.0, -check["min_clearance_mm"]))
                               if check else "", check["nogo"] if check else "", depth, tilt],
                     "colour": grade_rgb(grade)})
    return rows


def lesion_rows(session) -> list[dict]:
    """``{"cells": [...LESION_COLUMNS but pain], "pain": pain or None}`` per segmented lesion."""
    rows = []
    for name in session.lesion_names():
        if name not in session.lesions:
            continue
        info = session.lesion_info(name)
        rows.append({"cells": [name, number(info["volume_ml"], 2), info["type"], breakthrough_text(info["cortical_breakthrough"]),
                               mirels_text(info["mirels"]), fracture_risk_text(info.get("fracture_risk"))], "pain": info["pain"]})
    return rows


def cement_rows(session) -> list[list[str]]:
    rows = []
    for name in session.cement_names():
        result = session.cement.get(name)
        if result is not None:
            rows.append([name, number(result.volume_ml, 2), fill_text(result.lesion_fill_fraction),
                         leak_text(result.leak_risk, with_reasons=True)])
    return rows


def guidance_rows(session, guidance: dict | None = None) -> list[list[str]]:
    guidance = guidance_by_name(session) if guidance is None else guidance
    rows = []
    for name in session.screw_names():
        g = guidance.get(name)
        if not isinstance(g, dict):
            rows.append([name, str(g)] + [""] * (len(GUIDANCE_COLUMNS) - 2))
            continue
        rows.append([name, ", ".join(number(v) for v in g["skin_entry_lps"]), number(g["skin_to_bone_entry_mm"]),
                     number(g["skin_to_tip_mm"]), number(g["gantry_tilt_deg"]), "yes" if g["double_oblique"] else "no",
                     number(g["inplane_angle_deg"]), number(g["table_position_mm"]), number(g["carm_cranio_caudal_deg"]),
                     number(g["carm_lao_rao_deg"]), number(g["carm_progress_lao_rao_deg"])])
    return rows


def corridor_rows(session) -> list[dict]:
    """``{"cells": [...CORRIDOR_COLUMNS], "colour": rgb of the grade, "label": corridor label}`` per corridor found by
    the session's last find_corridors (no safe corridor: the breach colour and the reason); a femoral-neck corridor is
    followed by its triad of three parallel screws (accepted as three screws)."""
    rows = []
    for c in session.corridors:
        g = c.guidance or {}
        screw = f"{number(c.diameter_mm)} x {number(c.length_mm, 0)} mm {c.implant_id}" if c.found else ""
        rows.append({"cells": [c.label, number(c.width_mm) if c.width_mm is not None else "", screw,
                               number(c.min_clearance_mm) if c.found else "", c.grade or "no safe corridor",
                               number(g["skin_to_tip_mm"]) if "skin_to_tip_mm" in g else "",
                               number(g["gantry_tilt_deg"]) if "gantry_tilt_deg" in g else "", c.reason],
                     "colour": grade_rgb(c.grade or "breach"), "label": c.label})
        t = c.triad if c.found else None
        if t is not None:
            lengths = "/".join(number(s.length_mm, 0) for s in t.screws)
            screws = f"3 x {number(t.screws[0].diameter_mm)} mm, {lengths} mm, {number(t.spread_mm)} mm apart" if t.found else ""
            rows.append({"cells": [t.label, "", screws, number(t.min_clearance_mm) if t.found else "",
                                   t.grade or "no safe corridor", "", "", t.reason],
                         "colour": grade_rgb(t.grade or "breach"), "label": t.label})
    return rows
