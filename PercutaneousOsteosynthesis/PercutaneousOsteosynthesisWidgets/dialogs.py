"""File dialogs of the panel."""

import qt
import slicer
from slicer.i18n import tr as _


def pickFolder(title: str):
    """A folder chosen by the user, or None."""
    return qt.QFileDialog.getExistingDirectory(slicer.util.mainWindow(), title) or None


def pickPlanFile():
    """A plan file (Slicer markups JSON) chosen by the user, or None."""
    return qt.QFileDialog.getOpenFileName(slicer.util.mainWindow(), _("Import a plan"), "", _("Slicer markups (*.mrk.json);;All files (*)")) or None
