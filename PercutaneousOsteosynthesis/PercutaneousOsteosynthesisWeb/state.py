"""What the web page shows, as one dataclass bound to trame's state (trame-slicer's TypedState pattern)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PlannerState:
    status: str = "Load a CT (NIfTI, NRRD, MHA) or the built-in phantom."
    error: str = ""  # shown in a red banner until dismissed or the next action succeeds
    busy: bool = False
    progress: float = 0.0  # 0..100 while a long step runs
    progress_text: str = ""
    has_ct: bool = False
    has_bone: bool = False
    placing: str = ""  # "", "screw", "lesion" or "cement": what the next clicks in a view place
    screw_columns: list = field(default_factory=list)
    screw_rows: list = field(default_factory=list)  # {"name", "grade", "cells", "bg", "fg"}
    guidance_columns: list = field(default_factory=list)
    guidance_rows: list = field(default_factory=list)
    lesion_columns: list = field(default_factory=list)
    lesion_rows: list = field(default_factory=list)
    cement_columns: list = field(default_factory=list)
    cement_rows: list = field(default_factory=list)
    corridor_columns: list = field(default_factory=list)
    corridor_rows: list = field(default_factory=list)
    suggestion_rows: list = field(default_factory=list)
    selected_screw: str = ""
    screw_names: list = field(default_factory=list)
    probe_png: str = ""  # data URL of the probe's-eye figure of the selected screw
    cement_volume_ml: float = 4.0
    margin_mm: float = 1.0
    bone_in_3d: bool = True  # the opaque bone surface hides the screws inside it
    cursor_text: str = ""  # data probe: position (LPS) and HU under the mouse
    last_check_ms: float = 0.0  # server time of the last live re-check
    updates: int = 0  # live updates processed (the page shows it; tests wait on it)
    out_dir: str = ""
    saved_text: str = ""
    plan_json: str = ""  # the last saved plan.mrk.json, for the browser download
