"""The corridor search's no-go distance and its lower bound, against a brute-force minimum over every point."""

import numpy as np

from PercutaneousOsteosynthesisLib.bone.nogo import NogoStructure
from PercutaneousOsteosynthesisLib.bone.nogo_distance import BOUND_STEP_MM, NOGO_REACH_MM, NogoDistance


def _structures(rng):
    tube = np.column_stack([np.zeros(400), np.linspace(0, 60, 400), np.zeros(400)]) + rng.normal(0, 0.3, (400, 3))
    sheet = np.column_stack([rng.uniform(30, 50, 600), rng.uniform(-10, 10, 600), np.full(600, 20.0)])
    blob = rng.normal([-40, 20, -10], 6.0, (300, 3))  # a notch-like volume: deep points with large half widths
    blob_half = np.clip(12.0 - np.linalg.norm(blob - [-40, 20, -10], axis=1), 0.2, None)
    return [NogoStructure("tube", tube, 0.5), NogoStructure("sheet", sheet, 3.0, half_widths_mm=rng.uniform(0.25, 3.0, 600)),
            NogoStructure("blob", blob, float(blob_half.max()), half_widths_mm=blob_half)]


def test_lower_bound_never_exceeds_the_distance_and_is_tight_near_thin_structures():
    rng = np.random.default_rng(7)
    structures = _structures(rng)
    nogo = NogoDistance(structures)
    pts = np.vstack([n.points_lps for n in structures])
    half = np.concatenate([n.half_widths_mm if n.half_widths_mm is not None else np.full(len(n.points_lps), n.half_voxel_mm)
                           for n in structures])
    query = rng.uniform(pts.min(axis=0) - 25, pts.max(axis=0) + 25, (4000, 3))
    query = np.vstack([query, pts[::7] + rng.normal(0, 2.0, (len(pts[::7]), 3))])  # many near the walls
    brute = (np.linalg.norm(query[:, None] - pts[None], axis=2) - half[None]).min(axis=1)  # over every point
    exact, bound = nogo(query), nogo.lower_bound(query)
    assert (brute <= exact + 1e-9).all() and (bound <= exact + 1e-9).all()
    reach = brute < NOGO_REACH_MM  # beyond the reach both the distance and its bound are infinite
    assert np.isinf(exact[brute > NOGO_REACH_MM + 1e-9]).all() and (bound[reach] <= brute[reach] + 1e-9).all()
    assert reach.sum() > 500 and (brute[reach] < 0).sum() > 20  # inside the blob too
    # a thin tube alone (half width 0.5 mm, one group): the bound is within four half cell diagonals of the truth
    tube = structures[0]
    alone = NogoDistance([tube])
    near = tube.points_lps[::5] + rng.normal(0, 4.0, (len(tube.points_lps[::5]), 3))
    truth = (np.linalg.norm(near[:, None] - tube.points_lps[None], axis=2) - 0.5).min(axis=1)
    gap = truth - alone.lower_bound(near)
    assert (gap >= -1e-9).all() and gap.max() <= 2.0 * np.sqrt(3.0) * BOUND_STEP_MM + 1e-6
    # far from everything: infinite, like the distance itself
    far = np.array([[500.0, 500.0, 500.0]])
    assert np.isinf(nogo(far)[0]) and np.isinf(nogo.lower_bound(far)[0])
