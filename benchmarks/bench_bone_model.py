"""Benchmark: the bone model (segments + signed distance field + surface) vs Slicer's own closed-surface conversion
of the same threshold segmentation, on the real 1 mm pelvis CT (512x512x140) and a 512x512x400 volume made from it.

Run from the repository root:  python benchmarks/bench_bone_model.py
Each method runs in its own process so that peak memory (max RSS) is its own; three runs each, alternating, medians
reported (the machines are shared and their speed varies by 10-20 % from one minute to the next).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CT_1MM = REPO.parent / "shared" / "data" / "ct" / "vhm_pelvis_1mm.nii.gz"


def load(size: str):
    import numpy as np

    from PercutaneousOsteosynthesisLib.fileio.volume import CTVolume, read_ct

    ct = read_ct(CT_1MM)
    if size == "400":  # 512x512x400: the scan mirrored and repeated along z (bone keeps realistic structure)
        a = ct.array
        arr = np.concatenate([a, a[::-1], a], axis=0)[:400]
        g = ct.geometry
        ct = CTVolume(np.ascontiguousarray(arr), type(g)((g.size[0], g.size[1], 400), g.spacing, g.origin_lps, g.direction))
    return ct


def run_ours(size: str) -> dict:
    from PercutaneousOsteosynthesisLib.bone.model import build_bone_model

    ct = load(size)
    t = time.perf_counter()
    model = build_bone_model(ct)
    t_model = time.perf_counter() - t
    t = time.perf_counter()
    surf = model.surface_polydata_lps()
    t_surf = time.perf_counter() - t
    return {"seconds": t_model + t_surf, "seconds_segments_and_sdf": t_model, "seconds_surface": t_surf,
            "triangles": surf.GetNumberOfPolys(), "bone_ml": model.volumes_ml()["bone"], "shape": list(ct.array.shape)}


def run_slicer(size: str) -> dict:
    import slicer

    from PercutaneousOsteosynthesisLib.fileio.scene import register_segmentation_converter_rules
    from PercutaneousOsteosynthesisLib.fileio.segmentation import oriented_labelmap

    ct = load(size)
    register_segmentation_converter_rules()
    t = time.perf_counter()
    seg = slicer.vtkSegmentation()
    seg.SetSourceRepresentationName("Binary labelmap") if hasattr(seg, "SetSourceRepresentationName") else seg.SetMasterRepresentationName("Binary labelmap")
    seg.AddEmptySegment("bone")
    segment = seg.GetSegment(seg.GetNthSegmentID(0))
    segment.AddRepresentation("Binary labelmap", oriented_labelmap(ct.array >= 200.0, ct.geometry))
    seg.CreateRepresentation("Closed surface")
    surf = segment.GetRepresentation("Closed surface")
    return {"seconds": time.perf_counter() - t, "triangles": surf.GetNumberOfPolys() if surf else 0, "shape": list(ct.array.shape)}


def child(method: str, size: str):
    out = run_ours(size) if method == "ours" else run_slicer(size)
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # subtract the memory of loading the input (measured separately) for a fair 'working' figure
    print(json.dumps(out))


REPEATS = 3


def _median_run(runs: list) -> dict:
    """The run of median time, with the largest peak memory of all runs."""
    out = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    out["max_rss_mb"] = max(r["max_rss_mb"] for r in runs)
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3])
    if not CT_1MM.exists():
        print(f"missing {CT_1MM}: the benchmark needs ../shared/data beside the repository")
        return 1
    print(f"bone model benchmark on {CT_1MM.name} (2 cores)")
    print(f"{'volume':<14}{'method':<44}{'wall s':>8}{'peak MB':>9}{'triangles':>11}")
    for size in ("140", "400"):
        runs = {"ours": [], "slicer": []}
        for _ in range(REPEATS):  # alternating, so that a slower minute of a shared machine weighs on both
            for method in ("ours", "slicer"):
                p = subprocess.run([sys.executable, __file__, "--child", method, size], capture_output=True, text=True)
                if p.returncode != 0:
                    print(p.stderr[-2000:])
                    return 1
                runs[method].append(json.loads(p.stdout.strip().splitlines()[-1]))
        res = {m: _median_run(r) for m, r in runs.items()}
        label = "x".join(str(v) for v in res["ours"]["shape"][::-1])
        print(f"{label:<14}{'ours: segments + SDF + closed surface':<44}{res['ours']['seconds']:8.2f}{res['ours']['max_rss_mb']:9.0f}"
              f"{res['ours']['triangles']:11d}")
        print(f"{'':<14}{'  runs (s)':<44}" + " ".join(f"{r['seconds']:.2f}" for r in runs["ours"]))
        print(f"{'':<14}{'Slicer labelmap->closed surface (HU>=200)':<44}{res['slicer']['seconds']:8.2f}{res['slicer']['max_rss_mb']:9.0f}"
              f"{res['slicer']['triangles']:11d}")
        print(f"{'':<14}{'  runs (s)':<44}" + " ".join(f"{r['seconds']:.2f}" for r in runs["slicer"]))
        print(f"{'':<14}ratio ours/Slicer (medians of {REPEATS}): time {res['ours']['seconds'] / res['slicer']['seconds']:.2f}x, "
              f"memory {res['ours']['max_rss_mb'] / res['slicer']['max_rss_mb']:.2f}x; target < 10 s and < 3000 MB for 512x512x400")
    return 0


if __name__ == "__main__":
    sys.exit(main())
