"""Every colour the project shows, defined once: 3D views, probe's-eye slices, plots, HTML and PDF reports,
segmentations and the Slicer module all read them from here.

Colours are RGB triples in 0..1; ``rgb255`` and ``hex_colour`` convert them for images and HTML.
"""

from __future__ import annotations

# screw grades (the traffic light used everywhere a grade is shown)
GRADE_RGB = {"excellent": (0.12, 0.72, 0.22), "acceptable": (0.95, 0.78, 0.07), "breach": (0.88, 0.0, 0.0)}
UNGRADED_RGB = (0.47, 0.47, 1.0)  # a screw not checked yet
INVALID_RGB = (0.5, 0.5, 0.5)  # a screw whose check failed (e.g. outside the image)
GRADE_TEXT_RGB = {"excellent": (1.0, 1.0, 1.0), "acceptable": (0.0, 0.0, 0.0), "breach": (1.0, 1.0, 1.0)}
BREACH_ROW_RGB = (1.0, 0.78, 0.78)  # table rows of breaching screws and leaking cement
BREACH_SPAN_RGB = (1.0, 0.0, 0.0)  # breach stretches shaded in clearance plots

# segments
BONE_SEGMENT_RGB = {"bone": (0.95, 0.91, 0.80), "cortex": (1.0, 1.0, 0.9), "cancellous": (0.85, 0.65, 0.45),
                    "metal": (0.55, 0.6, 0.75), "sacroiliac joint": (0.3, 0.7, 0.9)}
LESION_RGB = ((0.85, 0.2, 0.6), (0.95, 0.5, 0.1), (0.6, 0.3, 0.9), (0.9, 0.8, 0.1))
CEMENT_RGB = (0.30, 0.75, 0.95)

# 3D views and slices
BONE_SURFACE_RGB = (0.93, 0.89, 0.78)
BACKGROUND_RGB = (0.08, 0.09, 0.12)
CORTEX_OUTLINE_RGB = (0.0, 1.0, 1.0)


def grade_rgb(grade) -> tuple[float, float, float]:
    """The colour of a grade; ungraded (None) and unknown grades get ``UNGRADED_RGB``, "invalid" ``INVALID_RGB``."""
    if grade == "invalid":
        return INVALID_RGB
    return GRADE_RGB.get(grade, UNGRADED_RGB)


def lesion_rgb(index: int) -> tuple[float, float, float]:
    """The colour of the ``index``-th lesion (cycling)."""
    return LESION_RGB[index % len(LESION_RGB)]


def rgb255(rgb) -> tuple[int, int, int]:
    """0..1 floats -> 0..255 integers."""
    return tuple(int(round(255 * float(c))) for c in rgb)


def hex_colour(rgb) -> str:
    """0..1 floats -> ``#rrggbb``."""
    return "#" + "".join(f"{c:02x}" for c in rgb255(rgb))
