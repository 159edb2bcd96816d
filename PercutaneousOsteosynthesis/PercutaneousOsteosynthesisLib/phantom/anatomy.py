"""The analytic anatomy of the built-in CT phantom (LPS mm): pelvis and proximal femurs made of exact-SDF shapes.

Patient left is +x.  Both hip bones (ilium, acetabulum, ischium with its spine, the greater sciatic notch between
the posterior column and the spine), the sacrum joined to them by 3 mm sacroiliac joint gaps, both proximal
femurs with 3 mm hip joint spaces, two lytic lesions (the right one breaks through the cortex) and an
existing metal screw in the right femoral neck.  Everything here is the ground truth of the tests.

Each hip bone and each femur is one :class:`BlendedBone`: its parts are joined by fillets of ``FILLET_RADIUS_MM`` as
real bone's junctions are (no sharp crease, no sub-voxel crevice). Bones are never blended with each other: the
sacrum, hip bones and femurs are a plain union, so the sacroiliac gaps and the hip joint spaces keep their exact
width (and the acetabular cavity, the ball the femoral head's joint space lies in, is kept free of fillets).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry.vectors import unit
from .blended import BlendedBone
from .shapes import (
    Capsule,
    CupShell,
    RoundBox,
    Sphere,
    frame,
    surface_foot,
    union_bounds,
    union_sdf,
)

SI_JOINT_GAP_MM = 3.0
HIP_JOINT_SPACE_MM = 3.0
HEAD_RADIUS_MM = 23.0
SACRUM_TILT_DEG = 25.0
# Fillet radius where the parts of one bone meet (mm), chosen by measuring the corridors of the CT against the exact
# ones (test_corridors.py): at 4 mm a groove about 2 mm wide stays between the auricular part, the iliac wing and the
# supra-acetabular pillar, which the bone model's 2 mm closing fills (S1 transsacral 10.5 deg, width -1.5 mm); at 8 mm
# the femur's head-neck fillet enters the hip joint space and the sacral pathways' optima turn flat (S1 transsacral
# 8.7 deg, left S2 iliosacral 4.9 deg); at 6 mm every pathway agrees within 1.3 deg (the right femoral neck, which
# pivots about the old screw, 2.2 deg), 1.4 mm and 0.81 mm of width.
FILLET_RADIUS_MM = 6.0
VESSEL_RADIUS_MM = 4.0
VESSEL_WALL_X_MM = 38.0  # the acetabulum's medial wall lies this far medial to the femoral head's centre


@dataclass
class Lesion:
    name: str
    center: np.ndarray
    radius: float
    breaks_cortex: bool


@dataclass
class Anatomy:
    """Shapes of the phantom: ``bone`` (the outer envelope), ``joints`` (sacroiliac gaps meant to be crossed)."""

    bone: list = field(default_factory=list)
    joints: list = field(default_factory=list)
    lesions: list = field(default_factory=list)
    metal: list = field(default_factory=list)
    medullary: list = field(default_factory=list)
    fatty_marrow: list = field(default_factory=list)  # fatty in the elderly preset only (femoral necks, sacral ala)
    nogo: list = field(default_factory=list)  # neural tunnels through the sacrum (canal, foramina): not bone
    vessels: list = field(default_factory=list)  # soft tissue; rendered at a contrast HU when one is asked for
    landmarks: dict = field(default_factory=dict)
    body_semi_axes: tuple = (160.0, 110.0)
    fat_thickness: float = 15.0
    fov_lo: np.ndarray = field(default_factory=lambda: np.array([-165.0, -115.0, -150.0]))
    fov_hi: np.ndarray = field(default_factory=lambda: np.array([165.0, 115.0, 82.0]))

    def bone_sdf(self, p):
        """Signed distance (mm, LPS points) to the bone envelope (the sacral tunnels carved out): exact outside the
        union of shapes and away from the tunnels, a bound elsewhere."""
        return self.carve(union_sdf(self.bone, p), p)

    def envelope_sdf(self, p):
        """As :meth:`bone_sdf` with the sacroiliac joint gaps counted as crossable (part of the envelope)."""
        return self.carve(union_sdf(self.bone + self.joints, p), p)

    def carve(self, sdf, p):
        """A signed distance with the neural tunnels (``nogo``) removed from the bone."""
        return np.maximum(sdf, -union_sdf(self.nogo, p)) if self.nogo else sdf

    def exact_mask(self, p, shapes=None):
        """True where the union's signed distance is exact: outside, where no fillet acts on the nearest shape (its
        field is its parts' plain minimum); inside, where moreover the nearest surface point of the deepest part lies
        on the union's surface (on its own shape's surface and inside no other shape)."""
        shapes = self.bone + self.joints if shapes is None else shapes
        d = np.stack([s.sdf(p) for s in shapes])
        k = d.argmin(axis=0)
        ok = np.zeros(len(p), bool)
        for idx, s in enumerate(shapes):
            sel = np.flatnonzero(k == idx)
            if not len(sel):
                continue
            q = p[sel]
            parts = s.members if isinstance(s, BlendedBone) else [s]
            plain, part = s.parts_min(q) if isinstance(s, BlendedBone) else (d[idx, sel], np.zeros(len(sel), int))
            good = np.abs(plain - d[idx, sel]) < 1e-9
            inside = np.flatnonzero(d[idx, sel] < 0)
            foot = np.empty((len(inside), 3))
            for j, part_shape in enumerate(parts):
                w = part[inside] == j
                if w.any():
                    foot[w] = surface_foot(part_shape, q[inside[w]])
            others = shapes[:idx] + shapes[idx + 1:]
            on_surface = np.abs(s.sdf(foot)) < 1e-3
            if others:
                on_surface &= union_sdf(others, foot) >= 1e-3
            good[inside] &= on_surface
            ok[sel] = good
        return ok

    def part(self, name: str):
        """The shape of that name: a bone of ``bone`` or a part of a blended bone (e.g. "left posterior column")."""
        for s in self.bone:
            if s.name == name:
                return s
            found = s.member(name) if isinstance(s, BlendedBone) else None
            if found is not None:
                return found
        raise KeyError(name)

    def bounds(self):
        return union_bounds(self.bone)


def _hip_bone_and_femur(anat: Anatomy, s: int, sacrum_center, e1, e2, e3, rot, ramus_radius_mm: float = 9.0):
    """Add one side (s=+1 left, -1 right) of the pelvis and the femur: the hip bone's parts and the femur's, each
    joined by fillets into one bone."""
    side = "left" if s > 0 else "right"
    hip, femur = [], []
    m = np.array([s, 1.0, 1.0])  # mirror x for the right side
    c_aur = sacrum_center + s * (45.0 + SI_JOINT_GAP_MM + 8.0) * e1
    # the posterior ilium: its medial face is the joint's; it reaches 14 mm lateral to the sacrum's face, under the wing
    hip.append(RoundBox(c_aur + s * 3.0 * e1, np.array([11.0, 28.0, 16.0]), rot, 3.0, f"{side} ilium auricular part"))
    # the joint gap, widened into both bones so that the union stays exact across it
    anat.joints.append(RoundBox(sacrum_center + s * 48.0 * e1, np.array([12.0, 28.0, 16.0]), rot, 3.0, f"{side} sacroiliac joint"))
    anat.landmarks[f"si_joint_center_{side}_lps"] = sacrum_center + s * (45.0 + 0.5 * SI_JOINT_GAP_MM) * e1

    wing_c = np.array([92.0, 20.0, 35.0]) * m
    wing_rot = frame(np.array([0.85, -0.45, 0.0]) * m, np.array([0.0, 0.15, 1.0]))
    hip.append(RoundBox(wing_c, np.array([40.0, 38.0, 6.0]), wing_rot, 5.0, f"{side} iliac wing"))

    head = np.array([80.0, -8.0, -50.0]) * m
    opening = unit(np.array([0.8, -0.2, -0.55]) * m)
    hip.append(CupShell(head, HEAD_RADIUS_MM + HIP_JOINT_SPACE_MM, 38.0, opening, 0.0, f"{side} acetabulum"))
    a1 = head + 45.0 * unit(np.array([-0.25, 0.15, 1.0]) * m)
    a2 = wing_c - 25.0 * wing_rot[:, 1]
    hip.append(Capsule(a1, a2, 17.0, f"{side} supra-acetabular pillar"))
    p1 = head + 42.0 * unit(np.array([-0.35, 0.9, 0.25]) * m)
    p2 = c_aur + s * 4.0 * e1 - 18.0 * e2
    hip.append(Capsule(p1, p2, 10.0, f"{side} posterior column"))
    q1 = head + 40.0 * unit(np.array([-0.45, -0.85, 0.25]) * m)
    hip.append(Capsule(q1, np.array([18.0, -70.0, -48.0]) * m, ramus_radius_mm, f"{side} superior ramus"))
    # the iliac body from the anterior inferior iliac spine, over the acetabulum and the greater sciatic notch, to the
    # posterior superior iliac spine: the supra-acetabular (LC-II) pathway
    aiis, psis = head + np.array([-5.0, -30.0, 30.0]) * m, np.array([58.0, 55.0, 20.0]) * m
    hip.append(Capsule(aiis, psis, 9.0, f"{side} iliac body"))
    anat.landmarks[f"aiis_{side}_lps"], anat.landmarks[f"psis_{side}_lps"] = aiis, psis
    # the ischium descends from the back of the cup; its spine points back toward the sacrum. The posterior column
    # above, the ischium and its spine in front and below bound the greater sciatic notch (soft tissue: nerve, vessels)
    i1 = head + 37.0 * unit(np.array([-0.3, 0.75, -0.3]) * m)
    i2 = np.array([62.0, 34.0, -100.0]) * m
    hip.append(Capsule(i1, i2, 10.0, f"{side} ischium"))
    spine = i1 + 0.45 * (i2 - i1)
    spine_tip = head + np.array([-30.0, 60.0, -24.0]) * m
    hip.append(Capsule(spine, spine_tip, 5.0, f"{side} ischial spine"))
    anat.landmarks[f"sciatic_notch_{side}_lps"] = 0.5 * (p1 + spine_tip)  # 10 mm from bone: in the notch

    neck = unit(np.array([0.8, 0.15, -0.58]) * m)
    n_end = head + 46.0 * neck
    femur.append(Sphere(head, HEAD_RADIUS_MM, f"{side} femoral head"))
    femur.append(Capsule(head, n_end, 14.5, f"{side} femoral neck"))
    anat.fatty_marrow.append(Capsule(head + 20.0 * neck, n_end, 9.0, f"{side} femoral neck marrow"))
    femur.append(Sphere(n_end + np.array([6.0, 8.0, 8.0]) * m, 17.0, f"{side} greater trochanter"))
    s1 = n_end + np.array([2.0, 4.0, -10.0]) * m
    s2 = s1 + np.array([-4.0, 0.0, -45.0]) * m
    femur.append(Capsule(s1, s2, 15.0, f"{side} femoral shaft"))
    anat.medullary.append(Capsule(s1 + np.array([0, 0, -12.0]), s2, 8.0, f"{side} medullary canal"))
    # kept free of fillets (a part buried just under an articular surface would make the blend bulge into the joint):
    # the ball of the hip joint space and the slab medial to the ilium's sacroiliac face, whose rim is that face's
    cavities = [Sphere(head, HEAD_RADIUS_MM + HIP_JOINT_SPACE_MM, f"{side} acetabular cavity"),
                RoundBox(c_aur - s * 14.0 * e1, np.array([6.0, 28.0, 16.0]), rot, 3.0, f"{side} sacroiliac cavity")]
    anat.bone.append(BlendedBone(hip, FILLET_RADIUS_MM, f"{side} hip bone", cavities))
    # a vessel along the pelvic wall, 1 mm medial to the acetabulum's medial wall at its closest (as the obturator and
    # external iliac vessels run beside the quadrilateral plate and the pelvic brim)
    vessel_c, along = head + np.array([-(VESSEL_WALL_X_MM + 1.0 + VESSEL_RADIUS_MM), 0.0, 0.0]) * m, unit(np.array([0.0, -0.6, -0.8]))
    anat.vessels.append(Capsule(vessel_c - 30.0 * along, vessel_c + 30.0 * along, VESSEL_RADIUS_MM, f"{side} pelvic wall vessel"))
    anat.bone.append(BlendedBone(femur, FILLET_RADIUS_MM, f"{side} femur"))
    anat.landmarks[f"femoral_head_center_{side}_lps"] = head
    anat.landmarks[f"neck_axis_{side}_lps"] = neck
    anat.landmarks[f"neck_end_{side}_lps"] = n_end
    anat.landmarks[f"supra_acetabular_axis_{side}_lps"] = (a1, a2)
    return head, neck, n_end, a1, a2


CLOSED_RAMUS_RADIUS_MM = 2.5  # a superior ramus too thin for any catalog screw with its margin
CLOSABLE_PATHWAYS = ("left anterior column",)


def build_anatomy(closed_pathway: str | None = None) -> Anatomy:
    """The phantom's anatomy in LPS mm (deterministic). ``closed_pathway`` "left anterior column": the left superior
    pubic ramus is ``CLOSED_RAMUS_RADIUS_MM`` thick, so that no screw fits it (a pelvis with a closed pathway)."""
    if closed_pathway is not None and closed_pathway not in CLOSABLE_PATHWAYS:
        raise ValueError(f"unknown closed pathway {closed_pathway!r}; one of {CLOSABLE_PATHWAYS}")
    anat = Anatomy()
    t = np.radians(SACRUM_TILT_DEG)
    sacrum_c = np.array([0.0, 35.0, 5.0])
    e1 = np.array([1.0, 0.0, 0.0])
    e2 = np.array([0.0, -np.sin(t), np.cos(t)])  # sacrum's long axis, upwards (tilted forward)
    rot = frame(e1, e2)
    e3 = rot[:, 2]
    anat.bone.append(RoundBox(sacrum_c, np.array([45.0, 45.0, 18.0]), rot, 4.0, "sacrum"))
    anat.landmarks["s1_body_center_lps"] = sacrum_c + 30.0 * e2
    anat.landmarks["sacrum_frame"] = (sacrum_c, e1, e2, e3)
    for s in (+1, -1):  # the sacral ala's marrow, lateral to the body, well inside the cortex
        anat.fatty_marrow.append(RoundBox(sacrum_c + s * 27.0 * e1, np.array([10.0, 30.0, 10.0]), rot, 3.0, "sacral ala marrow"))
    # neural tunnels: the sacral canal (posterior, along the sacrum) and the S1/S2 foramina (front to back)
    anat.nogo.append(Capsule(sacrum_c - 10.0 * e3 - 60.0 * e2, sacrum_c - 10.0 * e3 + 60.0 * e2, 5.0, "sacral canal"))
    for level, along in (("S1", -5.0), ("S2", -28.0)):
        for s, side in ((+1, "left"), (-1, "right")):
            centre = sacrum_c + s * 25.0 * e1 + along * e2
            anat.nogo.append(Capsule(centre - 30.0 * e3, centre + 30.0 * e3, 4.0, f"{side} {level} foramen"))
            anat.landmarks[f"{side}_{level.lower()}_foramen_lps"] = centre
    anat.landmarks["sacral_canal_axis_lps"] = (sacrum_c - 10.0 * e3, e2)
    sides = {}
    for s in (+1, -1):
        thin = closed_pathway == "left anterior column" and s > 0
        sides[s] = _hip_bone_and_femur(anat, s, sacrum_c, e1, e2, e3, rot, CLOSED_RAMUS_RADIUS_MM if thin else 9.0)
    # lesions: contained in the left supra-acetabular pillar; breaking through the right pillar's cortex
    _, _, _, a1, a2 = sides[+1]
    anat.lesions.append(Lesion("left supra-acetabular lesion", 0.5 * (a1 + a2), 9.0, False))
    _, _, _, a1, a2 = sides[-1]
    axis = unit(a2 - a1)
    out = unit(np.cross(axis, np.array([0.0, 0.0, 1.0])))
    if out[0] > 0:  # point laterally (patient right is -x)
        out = -out
    anat.lesions.append(Lesion("right supra-acetabular lesion", 0.5 * (a1 + a2) + 12.0 * out, 10.0, True))
    # existing implant: a 6.5 mm screw in the right femoral neck, below its axis
    head, neck, n_end, _, _ = sides[-1]
    low = np.array([0.0, 0.0, -6.0])
    anat.metal.append(Capsule(n_end + 10.0 * neck + low, head - 6.0 * neck + low, 3.25, "right femoral neck screw"))
    return anat
