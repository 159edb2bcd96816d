"""A modal progress dialog with Cancel, driven by the Lib's ``progress(fraction, message)`` callbacks."""

import qt
import slicer
from slicer.i18n import tr as _


class OperationCancelled(Exception):
    """Raised by a progress callback when the user pressed Cancel."""


class ProgressDialog:
    """``with ProgressDialog(title) as progress:`` runs work that calls ``progress(fraction, message)``; Cancel
    raises OperationCancelled inside the work, which the context manager swallows (``cancelled`` tells)."""

    def __init__(self, title: str):
        self.title = title
        self.dialog = None
        self.cancelled = False

    def __enter__(self):
        self.dialog = slicer.util.createProgressDialog(parent=slicer.util.mainWindow(), value=0, maximum=100, labelText=self.title,
                                                       windowTitle=self.title, autoClose=False, autoReset=False)
        self.dialog.setCancelButtonText(_("Cancel"))
        return self

    def __call__(self, fraction, message="") -> None:
        self.dialog.value = int(round(100 * min(max(float(fraction), 0.0), 1.0)))
        if message:
            self.dialog.labelText = f"{self.title}: {message}"
        qt.QApplication.processEvents()
        if self.dialog.wasCanceled:
            raise OperationCancelled()

    def __exit__(self, excType, exc, tb) -> bool:
        self.dialog.close()
        self.cancelled = excType is OperationCancelled
        return self.cancelled
