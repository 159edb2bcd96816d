"""Text of findings shown to people, defined once for the CLI tables, the HTML and PDF reports and the Slicer module.

Each function takes the report.json value (a dict or a number) and returns plain text (HTML callers escape it).
"""

from __future__ import annotations

NONE_TEXT = "—"


def number(value, digits: int = 1, unit: str = "") -> str:
    """``12.3`` (or ``12.3 mm`` with a unit); None and non-numbers give ``NONE_TEXT``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return NONE_TEXT
    return f"{value:.{digits}f}" + (f" {unit}" if unit else "")


def gantry_tilt_text(guidance: dict, number_text=number) -> str:
    """``-48.9 (double oblique)``: a screw's gantry tilt (degrees, numbers by ``number_text``), marked when it exceeds
    the scanner's tilt range (screws.guidance)."""
    return number_text(guidance.get("gantry_tilt_deg")) + (" (double oblique)" if guidance.get("double_oblique") else "")


def perforation_text(grade, perforation_mm=None) -> str:
    """Perforation grade (0-3) with the depth out of bone: ``2 (2.7 mm)``; ``0`` when the screw stays in bone."""
    if grade is None:
        return NONE_TEXT
    return f"{int(grade)}" + (f" ({perforation_mm:.1f} mm)" if grade and perforation_mm is not None else "")


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def fracture_risk_text(risk) -> str:
    """``Harrington II (medial wall deficient)``, ``axial cortical involvement 42 mm (> 30 mm), lesser trochanter
    involved``, or NONE_TEXT."""
    if not risk:
        return NONE_TEXT
    parts = []
    h = risk.get("harrington")
    if h is not None:
        if h.get("class") is None:
            parts.append(f"Harrington n/a: {h.get('reason', '')}".rstrip(": "))
        else:
            walls = [w for w, key in (("medial wall", "medial_wall_deficient"), ("roof", "roof_deficient")) if h.get(key)]
            parts.append(f"Harrington {ROMAN[h['class']]}" + (f" ({', '.join(walls)} deficient)" if walls else " (walls intact)"))
    f = risk.get("proximal_femur")
    if f is not None:
        axial = f.get("axial_cortical_involvement_mm")
        text = f"axial cortical involvement {number(axial, 0)} mm" + (" (> 30 mm)" if f.get("axial_involvement_over_30mm") else "")
        if f.get("lesser_trochanter_involved"):
            text += ", lesser trochanter involved"
        parts.append(text)
    return "; ".join(parts) if parts else NONE_TEXT


def mirels_text(mirels) -> str:
    """``9 (impending fracture: prophylactic fixation)``, or why no score: ``n/a: <reason>``."""
    if mirels is None:
        return NONE_TEXT
    if isinstance(mirels, (int, float)) and not isinstance(mirels, bool):
        return number(mirels, 0)
    if mirels.get("total") is not None:
        reading = mirels.get("reading")
        return f"{mirels['total']}" + (f" ({reading})" if reading else "")
    reason = mirels.get("reason")
    return "n/a" + (f": {reason}" if reason else "")


def leak_reasons_text(risk) -> str:
    """``bone_surface at 1.0 mm, cortical_defect at 1.0 mm`` (the structures cement may leak to, and how close)."""
    return ", ".join(f"{r.get('kind')} at {number(r.get('distance_mm'))} mm" for r in (risk or {}).get("reasons", []))


def leak_text(risk, with_reasons: bool = False) -> str:
    """``AT RISK`` (with ``(bone_surface 1.0 mm)`` when asked) or ``low``; ``NONE_TEXT`` when not assessed."""
    if not risk or risk.get("at_risk") is None:
        return NONE_TEXT
    if not risk["at_risk"]:
        return "low"
    return f"AT RISK ({leak_reasons_text(risk)})" if with_reasons else "AT RISK"


def fill_text(fill) -> str:
    """Lesion fill of a cement injection: ``left lesion 99 %, right lesion 0 %`` (``no lesion`` when empty)."""
    if isinstance(fill, dict):
        return ", ".join(f"{k} {100 * v:.0f} %" for k, v in fill.items()) or "no lesion"
    return number(None if fill is None else 100 * fill, 0, "%")


def breakthrough_text(value) -> str:
    """Cortical breakthrough of a lesion: ``breaks through the cortex`` / ``contained``."""
    if value is None:
        return NONE_TEXT
    return "breaks through the cortex" if value else "contained"


def tip_apex_text(metrics: dict) -> str:
    """``neck A 18.2, neck B 21.0`` (Baumgaertner TAD per screw, mm) or the reason it is missing."""
    tad = metrics.get("tip_apex_distance_mm") or {}
    if not tad:
        return metrics.get("tip_apex_note") or NONE_TEXT
    return ", ".join(f"{name} {number(v)}" for name, v in tad.items())


def neck_configuration_text(metrics: dict) -> str:
    """Inverted triangle, cortical support of the inferior and posterior screws and entry level of a femoral-neck
    set: ``inverted triangle; inferior (A) 1.9 mm from the calcar; posterior (C) 2.4 mm from the posterior cortex;
    entries above the lesser trochanter``."""
    parts = []
    tri = metrics.get("inverted_triangle")
    if tri is not None:
        parts.append("inverted triangle" if tri else "not an inverted triangle")
    rules = metrics.get("configuration") or {}
    if rules:
        parts.append(f"inferior ({rules['inferior_screw']}) {number(rules.get('inferior_cortex_mm'), unit='mm')} from the calcar")
        parts.append(f"posterior ({rules['posterior_screw']}) {number(rules.get('posterior_cortex_mm'), unit='mm')} from the posterior cortex")
        below = rules.get("entries_below_lesser_trochanter")
        parts.append("entry level vs lesser trochanter not assessed" if below is None else
                     ("entries above the lesser trochanter" if not below else "entry below the lesser trochanter: " + ", ".join(below)))
    return "; ".join(parts) or NONE_TEXT


ENTERED_KINDS = ("neural", "articular", "implant", "enhanced")  # a screw check's lists of entered no-go structures, in nogo_text's order


def nogo_text(nogo, neural=(), articular=(), implant=(), enhanced=()) -> str:
    """No-go structures of one screw: ``enters left S1 foramen (neural)``, else the nearest with its clearance
    ``left S1 foramen 4.1 mm``; NONE_TEXT when none was assessed (coarse CT, no separate sacrum or femur)."""
    entered = [f"{n} (neural)" for n in neural] + [f"{n} (intra-articular)" for n in articular] + list(implant) + list(enhanced)
    if entered:
        return "enters " + ", ".join(entered)
    if not nogo:
        return NONE_TEXT
    name = min(nogo, key=lambda k: nogo[k])
    return f"{name} {number(nogo[name], unit='mm')}"


def fluoroscopy_views_text(views) -> str:
    """``inlet 65° caudal, outlet 25° cranial (fitted to the sacrum: S1-S2 foramina)``."""
    if not views:
        return NONE_TEXT
    return (f"inlet {number(views.get('inlet_caudal_deg'), 0)}° caudal, outlet {number(views.get('outlet_cranial_deg'), 0)}° cranial "
            f"({views.get('source', '')})")
