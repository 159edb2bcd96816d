"""GUI-free core of the PercutaneousOsteosynthesis 3D Slicer extension.

Coordinate conventions (see README): files and every ``*_lps`` name are in LPS millimetres
(x to patient Left, y to Posterior, z to Superior), as Slicer writes markups JSON.  Slicer's
scene is RAS; functions that take or return RAS say so in their name (``*_ras``).

This package never imports qt, ctk or slicer.util and never touches the Slicer application
singletons; MRML scenes are passed in as arguments.

The scripting API is re-exported here (imported on first use, so ``import PercutaneousOsteosynthesisLib``
stays light)::

    import PercutaneousOsteosynthesisLib as posteo
    ct = posteo.read_ct("ct.nrrd")
    bone = posteo.build_bone_model(ct)
    report = posteo.run_plan(ct, posteo.load_plan("plan.mrk.json"), "out/", bone=bone)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_API = {
    "PosteoInputError": "errors",
    "read_ct": "fileio.volume", "CTVolume": "fileio.volume",
    "prepare_scene": "fileio.scene",
    "make_phantom": "phantom.ct", "write_phantom": "phantom.ct",
    "build_bone_model": "bone.model", "BoneModel": "bone.model", "BoneParameters": "bone.model",
    "Screw": "screws.screw", "default_catalog": "screws.implants", "screw_from_implant": "screws.implants",
    "check_screw": "screws.clearance", "suggest_trajectories": "screws.suggest", "compute_guidance": "screws.guidance",
    "find_corridors": "corridors.find",
    "segment_lesion": "lesions.segmentation", "simulate_cement": "lesions.cement",
    "Plan": "plan.model", "LesionSeed": "plan.model", "CementInjection": "plan.model",
    "load_plan": "plan.markups", "save_plan": "plan.markups", "run_plan": "plan.runner",
    "write_report": "report.html_report",
    "PlanningSession": "session.planning",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
