"""Benchmark: all named corridors of one CT after its bone model (target: under 20 s on 2 cores), and the search
against an exhaustive reference (every line of a 1 mm / 1 degree grid over the same region, no pattern search), both
on the signed distance field.

Run from the repository root:  python benchmarks/bench_corridors.py
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model
    from PercutaneousOsteosynthesisLib.corridors.find import find_corridors
    from PercutaneousOsteosynthesisLib.corridors.landmarks import find_landmarks
    from PercutaneousOsteosynthesisLib.corridors.pathways import BY_NAME, search_region
    from PercutaneousOsteosynthesisLib.corridors.search import _lines, find_widest_line, score_lines
    from PercutaneousOsteosynthesisLib.geometry.vectors import disc_offsets
    from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom

    for label, kwargs in (("phantom 1 mm", {}), ("elderly phantom 1 mm", {"preset": "elderly"})):
        ct, _ = make_phantom(**kwargs)
        bone = build_bone_model(ct)
        bone.surface_polydata_lps()  # built with the bone model outputs in every workflow
        times = []
        for _ in range(2):
            t = time.perf_counter()
            corridors = find_corridors(bone, ct)
            times.append(time.perf_counter() - t)
        found = sum(c.found for c in corridors)
        print(f"{label}: {len(corridors)} pathways ({found} with a screw) in {min(times):.1f} s (target < 20 s)")

    # the search against an exhaustive grid, both on the signed distance field alone (no no-go structures)
    lm = find_landmarks(bone)

    def depth(p):
        return -bone.signed_distance_lps(p)

    for name, side in (("femoral neck", "left"), ("supra-acetabular", "left"), ("S1 transsacral", None)):
        region, _ = search_region(BY_NAME[name], lm, side)
        t = time.perf_counter()
        ours = find_widest_line(region, depth)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        offsets = disc_offsets(region.half_width_mm, 1.0)
        tilts = disc_offsets(np.tan(np.radians(region.cone_deg)), np.tan(np.radians(1.0)))
        best = -np.inf
        for tilt in tilts:
            p, d = _lines(region, offsets, np.repeat(tilt[None], len(offsets), axis=0))
            best = max(best, float(score_lines(p, d, region, depth, None, 1.0)[1].max()))
        t_ref = time.perf_counter() - t
        print(f"{side or ''} {name}: ours {t_ours:.2f} s, width {2 * ours.radius_mm:.2f} mm; exhaustive 1 mm / 1 degree "
              f"({len(offsets) * len(tilts)} lines) {t_ref:.1f} s, width {2 * best:.2f} mm; ours {t_ref / t_ours:.0f}x faster")

if __name__ == "__main__":
    main()
