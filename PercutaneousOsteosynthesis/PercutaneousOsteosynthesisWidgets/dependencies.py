"""Python packages Slicer does not bundle, installed when first needed (asked, never at import time)."""

import importlib
import importlib.util

import slicer
from slicer.i18n import tr as _

REPORT_REQUIREMENTS = ("matplotlib", "fpdf2")
TEST_REQUIREMENTS = ("pytest", "hypothesis", "jsonschema", "matplotlib", "fpdf2")
IMPORT_NAMES = {"fpdf2": "fpdf"}


def _missing(requirements) -> list:
    return [r for r in requirements if importlib.util.find_spec(IMPORT_NAMES.get(r, r)) is None]


def ensurePythonPackages(requirements, reason: str, ask: bool = True) -> bool:
    """Install the missing ``requirements`` into Slicer's Python: with slicer.pydeps.pip_ensure (Slicer 5.11 and
    later), else with slicer.util.pip_install after the user agreed (``ask``).  Returns True when all are present."""
    missing = _missing(requirements)
    if not missing:
        return True
    try:
        # not "import slicer.pydeps": that would make "slicer" a local name, unbound in the fallback below
        pydeps = importlib.import_module("slicer.pydeps")
        from packaging.requirements import Requirement

        pydeps.pip_ensure([Requirement(r) for r in missing], requester="PercutaneousOsteosynthesis")
    except ImportError:
        if ask and not slicer.util.confirmOkCancelDisplay(
                _("{reason} needs the Python packages {names}. Install them now?").format(reason=reason, names=", ".join(missing))):
            return False
        slicer.util.pip_install(missing)
    importlib.invalidate_caches()
    return not _missing(requirements)
