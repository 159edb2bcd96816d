"""Cavities enclosed by one bone in 3D (bone.enclosure) against shapes whose inside is known: a shell with gaps in its
thin cortex and a tunnel through it, a bowl, two bones facing each other across a joint space; and on the real CT, the
marrow of the S1 vertebral body."""

from __future__ import annotations

import numpy as np

from PercutaneousOsteosynthesisLib.bone.enclosure import fill_enclosed_cavities

SPACING = (1.0, 1.0, 1.0)
CORTEX_HU = 900.0


def _grid(n=64):
    k, j, i = np.mgrid[0:n, 0:n, 0:n].astype(float)
    return k - n / 2, j - n / 2, i - n / 2


def _fill(env_labels, hu):
    out = env_labels.copy()
    fill_enclosed_cavities(out, hu, SPACING, 600.0)
    return out


def test_a_shell_with_gaps_in_its_cortex_and_a_tunnel_is_filled_inside_only():
    z, y, x = _grid()
    r = np.sqrt(x * x + y * y + z * z)
    shell = (r >= 18.0) & (r < 19.5)
    rng = np.random.default_rng(3)
    for c in rng.normal(size=(40, 3)):  # 40 gaps of 2 mm through the thin cortex
        c = 18.75 * c / np.linalg.norm(c)
        shell &= (x - c[2]) ** 2 + (y - c[1]) ** 2 + (z - c[0]) ** 2 > 1.0
    shell &= ~((x * x + y * y < 16.0) & (np.abs(z) > 10))  # a tunnel of 4 mm radius out through both poles
    env = shell.astype(np.uint8)
    hu = np.where(shell, CORTEX_HU, 80.0).astype(np.float32)  # marrow 80 HU inside, muscle-like outside
    hu[r > 19.5] = 40.0
    out = _fill(env, hu)
    interior = (r < 17.0) & ~((x * x + y * y < 25.0) & (np.abs(z) > 10))
    assert out[interior].mean() >= 0.95  # a few voxels see out through a gap along two of their rays
    assert not out[r > 20.5].any()  # nothing outside the shell


def test_a_bowl_and_a_joint_space_stay_open():
    z, y, x = _grid()
    r = np.sqrt(x * x + y * y + z * z)
    bowl = (r >= 18.0) & (r < 21.0) & (z < 4.0)  # an acetabulum-like cup open upward
    env = bowl.astype(np.uint8)
    hu = np.where(bowl, CORTEX_HU, 40.0).astype(np.float32)
    out = _fill(env, hu)
    assert not out[(r < 17.0)].any()
    # two bones (labels 1 and 2) facing each other across a 3 mm joint space, each a closed box
    env = np.zeros(r.shape, np.uint8)
    env[(np.abs(y) < 20) & (np.abs(z) < 20) & (x > -25) & (x < -1.5)] = 1
    env[(np.abs(y) < 20) & (np.abs(z) < 20) & (x > 1.5) & (x < 25)] = 2
    hu = np.where(env > 0, 300.0, 40.0).astype(np.float32)
    out = _fill(env, hu)
    gap = (np.abs(x) < 1.0) & (np.abs(y) < 18) & (np.abs(z) < 18)
    assert not out[gap].any()


def test_real_s1_vertebral_body_marrow_is_inside_bone(real_ct_1mm, real_bone_1mm):
    """On the midline of the real CT, from the S1 body's anterior cortex back to the sacral canal (both read from the
    CT: the first voxel above 300 HU behind the pelvic fat, then the first voxel below 0 HU), the marrow is bone: the
    model's field is negative at 85 % of the points at least (the rest: fat and veins opening into the canal, left
    out). Its marrow (50-230 HU) lies below the bone threshold and is enclosed in axial slices only."""
    ct, bone = real_ct_1mm, real_bone_1mm
    from PercutaneousOsteosynthesisLib.corridors.landmarks import find_landmarks

    mid = find_landmarks(bone).midline_x
    inside, total = 0, 0
    for z in range(458, 472):  # the S1 body's lower half (the sacroiliac joints span z 445-497 mm)
        ys = np.arange(260.0, 370.0)
        pts = np.column_stack([np.full(len(ys), mid), ys, np.full(len(ys), float(z))])
        idx = np.rint(ct.geometry.lps_to_ijk(pts)).astype(int)
        hu = ct.array[idx[:, 2], idx[:, 1], idx[:, 0]]
        fat = int(np.argmax(hu < 0))  # the pelvic fat in front of the sacrum
        front = fat + int(np.argmax(hu[fat:] > 300))  # the body's anterior cortex
        canal = front + 3 + int(np.argmax(hu[front + 3:] < 0))
        body = np.arange(front + 3, canal - 3)  # inside the anterior cortex, short of the canal's wall
        assert 20 <= len(body) <= 45, (z, ys[front], ys[canal])  # an adult's S1 body: 25-35 mm deep
        sdf = bone.signed_distance_lps(pts[body])
        inside += int(np.count_nonzero(sdf < 0))
        total += len(body)
    assert inside / total >= 0.85, inside / total  # 0.87; it was 0.33 before cavities enclosed in 3D were filled
