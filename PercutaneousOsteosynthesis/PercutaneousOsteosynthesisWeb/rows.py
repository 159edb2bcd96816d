"""Table rows of ``session.tables`` as the page shows them: text cells plus the colours of the grade."""

from __future__ import annotations

from PercutaneousOsteosynthesisLib.palette import BREACH_ROW_RGB, GRADE_TEXT_RGB, hex_colour


def coloured_rows(rows: list[dict], grade_column: int) -> list[dict]:
    """``{"key", "cells", "grade", "bg", "chip", "chip_text"}`` per row of a graded table (screws, corridors): the row
    is shaded when the grade is a breach, the grade cell takes the grade's colour."""
    out = []
    for row in rows:
        cells = [str(c) for c in row["cells"]]
        grade = cells[grade_column]
        out.append({"key": row.get("label", cells[0]), "cells": cells, "grade": grade,
                    "bg": hex_colour(BREACH_ROW_RGB) if grade == "breach" else "",
                    "chip": hex_colour(row["colour"]), "chip_text": hex_colour(GRADE_TEXT_RGB.get(grade, (0.0, 0.0, 0.0)))})
    return out


def plain_rows(rows: list[list]) -> list[dict]:
    return [{"key": str(r[0]), "cells": [str(c) for c in r]} for r in rows]
