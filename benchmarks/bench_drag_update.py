"""Benchmark: one live drag update of a screw in a planning session (clearance check + screw model + colour).

Run from the repository root:  python benchmarks/bench_drag_update.py
Uses the real 1 mm pelvis CT (../shared/data/ct/vhm_pelvis_1mm.nii.gz); exits without measuring when it is absent.
The tip of a screw lying deep in bone is moved in 1 mm steps (as a mouse drag does, RAS control point) and
``PlanningSession.timed_drag_update`` times each update; the target is 10 ms per update (interactive dragging).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CT = REPO.parent / "shared" / "data" / "ct" / "vhm_pelvis_1mm.nii.gz"
TARGET_MS = 10.0
N_UPDATES = 200


def main() -> int:
    if not CT.exists():
        print(f"real CT not available: {CT}; nothing measured")
        return 0
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
    from PercutaneousOsteosynthesisLib.fileio.nodes import volume_node_from_ct
    from PercutaneousOsteosynthesisLib.fileio.scene import prepare_scene
    from PercutaneousOsteosynthesisLib.fileio.volume import read_ct
    from PercutaneousOsteosynthesisLib.session.planning import PlanningSession

    t = time.perf_counter()
    ct = read_ct(CT)
    bone = build_bone_model(ct)
    print(f"CT {CT.name} {ct.geometry.size}, bone model built in {time.perf_counter() - t:.1f} s (not counted)")
    scene = prepare_scene()
    session = PlanningSession(scene)
    session.set_ct(volume_node_from_ct(ct, scene, "CT"))
    session.bone = bone  # the segmentation node is not needed for the timing

    rng = np.random.default_rng(1)
    kji = np.argwhere(bone.labels == 2)
    pts = bone.geometry.ijk_to_lps(kji[rng.choice(len(kji), 4000)][:, ::-1].astype(float))
    deep = pts[bone.signed_distance_lps(pts) < -6.0]
    entry = deep[0]
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    session.add_screw("bench", entry, entry + 80.0 * u)
    line = session.line_node("bench")
    times = []
    for k in range(N_UPDATES):
        tip = entry + (60.0 + (k % 40)) * u  # drag the tip back and forth over 40 mm
        line.SetNthControlPointPositionWorld(1, *(tip * [-1, -1, 1]))  # RAS, as the mouse does
        times.append(session.timed_drag_update("bench"))
    t = np.array(times[5:])
    print(f"{len(t)} drag updates (check + model + colour), 7.3 mm screw 60-100 mm long, grade now {session.grade('bench')}")
    print(f"ms per update: median {np.median(t):.2f}, mean {t.mean():.2f}, 95th percentile {np.percentile(t, 95):.2f}")
    print(f"ratio to the {TARGET_MS:.0f} ms target: {np.median(t) / TARGET_MS:.2f} (median), {np.percentile(t, 95) / TARGET_MS:.2f} (95th percentile)")
    session.remove()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
