"""Scripting example of the README ("Scripting from Slicer's Python console"); test_session.py executes it.

In Slicer it works in Slicer's own scene; outside Slicer (slicer-core wheel) in a new scene.
"""

import tempfile

import slicer

from PercutaneousOsteosynthesisLib.fileio.scene import prepare_scene
from PercutaneousOsteosynthesisLib.session.planning import PlanningSession

scene = prepare_scene(getattr(slicer, "mrmlScene", None))  # Slicer's scene in Slicer, else a new one
session = PlanningSession(scene, name="neck plan", margin_mm=1.0)
session.load_phantom()                      # synthetic pelvis CT (its truth in session.truth)
session.build_bone_model()                  # bone model + segmentation node (~20 s)

path = next(p for p in session.truth["screw_paths"] if p["name"].startswith("left femoral neck"))
line = session.add_screw("left neck", path["entry_lps"], path["tip_lps"])   # LPS mm in, RAS in the scene
session.observe_screw("left neck")          # live re-check when a control point is dragged
checks = session.check("left neck")         # min_clearance_mm, grade, breach_length_mm, ...
print(checks["grade"], round(checks["min_clearance_mm"], 2), "mm")
print(session.guidance("left neck")["skin_to_tip_mm"], "mm skin to tip")

out_dir = tempfile.mkdtemp(prefix="posteo-plan-")
files = session.export(out_dir)             # plan.mrk.json, report.json, screws/, bone.seg.nrrd, ...
print(sorted(files))

corridors = session.find_corridors()        # every named osseous fixation pathway, the widest safe screw in each
print([(c.label, round(c.width_mm, 1), c.implant_id) for c in corridors if c.found])
# session.accept_corridor("right femoral neck") would add that corridor's screw to the plan
