"""Filling the panel's QTableWidgets from the GUI-free row lists of ``PercutaneousOsteosynthesisLib.session.tables``."""

import qt
from slicer.i18n import tr as _

PAIN_CHOICES = ("", "mild", "moderate", "functional")


def setupTable(table, columns) -> None:
    """Read-only, single-row selection, translated headers."""
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels([_(c) for c in columns])
    table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
    table.setSelectionMode(qt.QAbstractItemView.SingleSelection)


def fillTable(table, rows) -> None:
    """One row per list of cell values (None shown empty)."""
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            table.setItem(r, c, qt.QTableWidgetItem("" if value is None else str(value)))


def fillGradedTable(table, rows, gradeColumn: int) -> None:
    """Rows of ``session.tables`` (``{"cells", "colour"}``): the cells, and the grade column in the grade's colour."""
    fillTable(table, [row["cells"] for row in rows])
    for r, row in enumerate(rows):
        colourCell(table, r, gradeColumn, row["colour"])


def colourCell(table, row: int, column: int, rgb) -> None:
    table.item(row, column).setBackground(qt.QBrush(qt.QColor.fromRgbF(*rgb)))


def painCombo(pain, onChanged):
    """A combo box of the Mirels pain levels; ``onChanged(text)`` when the user picks one."""
    combo = qt.QComboBox()
    combo.addItems(list(PAIN_CHOICES))
    combo.setCurrentText(pain or "")
    combo.connect("currentTextChanged(QString)", onChanged)
    return combo
