"""A lytic lesion that breaks through the cortex still belongs to the bone once segmented: a screw through it is
checked against the analytic envelope (bone shapes, lesions included), not against the hole in the CT."""

import numpy as np

from PercutaneousOsteosynthesisLib.geometry.vectors import unit
from PercutaneousOsteosynthesisLib.lesions.segmentation import segment_lesion
from PercutaneousOsteosynthesisLib.phantom.exact_depth import exact_depth_fn
from PercutaneousOsteosynthesisLib.screws.clearance import check_screw, grade_of
from PercutaneousOsteosynthesisLib.screws.screw import Screw


def test_screw_through_breaking_lesion(phantom, phantom_bone, anatomy):
    ct, _ = phantom
    lesion = next(l for l in anatomy.lesions if l.breaks_cortex)
    a1, a2 = anatomy.landmarks["supra_acetabular_axis_right_lps"]
    axis = unit(a2 - a1)
    towards = lesion.center - (a1 + np.dot(lesion.center - a1, axis) * axis)
    shift = 5.0 * unit(towards)
    screw = Screw("through lesion", a2 + 8 * axis + shift, a1 - 12 * axis + shift, 7.3)
    s, pts = screw.axis_points_lps(0.5)
    assert np.linalg.norm(pts - lesion.center, axis=1).min() < lesion.radius - 2.0  # the screw runs through the lesion
    truth = exact_depth_fn(anatomy)(pts) - 3.65  # exact where shapes overlap (the union's own field is a bound there)
    before = check_screw(screw, phantom_bone)
    seg = segment_lesion(ct, phantom_bone, lesion.center, "lesion")
    after = check_screw(screw, phantom_bone.including([seg.full_mask()]))
    assert before.grade == "breach"  # the hole in the CT reads as outside bone...
    # ...the segmented lesion is inside, as in the truth (whose minimum, at the tip near the acetabulum, is 0.35 mm)
    assert after.grade == grade_of(truth.min(), 1.0) != "breach"
    assert abs(after.min_clearance_mm - truth.min()) < 0.5
    prof = np.asarray(after.to_dict(profile=True)["profile"]["clearance_mm"])
    assert np.max(np.abs(prof - np.interp(after.to_dict(profile=True)["profile"]["s_mm"], s, truth))) < 1.0
