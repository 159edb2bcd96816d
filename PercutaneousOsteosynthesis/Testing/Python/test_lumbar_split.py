"""The lumbar vertebra above the sacrum split off at the L5-S1 disc (bone.lumbar_split): on a column of two vertebral
bodies with a tilted disc of known plane, on the Visible Human CT (L5 joined to the sacrum by an anterior osteophyte)
and not at all on the phantom (no vertebra above its sacrum)."""

from __future__ import annotations

import numpy as np
import pytest

from PercutaneousOsteosynthesisLib.bone.lumbar_split import split_lumbar
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry

TILT_DEG, DISC_S_MM, DISC_HALF_MM = 20.0, 45.0, 4.0  # the column's disc: |cos(t) z - sin(t) y - 45| < 4 mm


def _column(disc_hu: float, upper: bool = True):
    """(labels, HU, geometry) of two vertebral bodies (x 30-70, y 20-55 mm: 40 wide, 35 deep; 300 HU) one above the
    other with a disc of ``disc_hu`` between them tilted by TILT_DEG (rising backward), joined by an osteophyte of 600
    HU across the disc's front (y 20-23, x 45-55); all of it one component (as the closing leaves it). ``upper``
    False: the lower body alone, cut by the scan's top at the disc's lower face."""
    g = ImageGeometry((100, 80, 100), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    k, j, i = np.meshgrid(np.arange(100), np.arange(80), np.arange(100), indexing="ij")
    x, y, z = i.astype(float), j.astype(float), k.astype(float)
    s = np.cos(np.radians(TILT_DEG)) * z - np.sin(np.radians(TILT_DEG)) * y
    body = (x >= 30) & (x < 70) & (y >= 20) & (y < 55) & (z >= 5) & (z < 95)
    if not upper:
        body &= s < DISC_S_MM - DISC_HALF_MM
    hu = np.where(body, 300.0, 0.0).astype(np.float32)
    disc = body & (np.abs(s - DISC_S_MM) < DISC_HALF_MM)
    hu[disc] = disc_hu
    hu[disc & (y < 23) & (x >= 45) & (x < 55)] = 600.0
    return body.astype(np.uint16), hu, g, s


def test_a_column_is_cut_at_its_tilted_disc():
    """The upper body becomes its own component at the disc's plane (tilt and offset as built, within the search's
    2 degree step and a millimetre), the osteophyte notwithstanding; the disc's soft tissue is no longer bone."""
    labels, hu, g, s = _column(disc_hu=80.0)
    body = labels > 0
    out = split_lumbar(labels, hu, g, 1, 2, 200.0, 50.0)
    assert out is not None
    assert out["tilt_deg"] == pytest.approx(TILT_DEG, abs=2.0)
    assert out["offset_mm"] == pytest.approx(DISC_S_MM, abs=1.0)
    assert np.all(s[labels == 2] > DISC_S_MM - DISC_HALF_MM)  # nothing of the lower body above ...
    assert np.all(s[labels == 1] < DISC_S_MM + DISC_HALF_MM)  # ... nor of the upper one below
    assert np.count_nonzero(labels == 2) >= np.count_nonzero(body & (s > DISC_S_MM + DISC_HALF_MM))  # the upper body whole
    soft = (hu < 200.0) & (np.abs(s - DISC_S_MM) < DISC_HALF_MM - 1.0)
    assert soft.any() and not np.any(labels[soft])


def test_a_fused_column_or_a_sacrum_alone_is_left_whole():
    """No disc (bone across: fused) or no vertebra above (the scan ends at the disc): nothing is changed."""
    for labels, hu, g, _ in (_column(disc_hu=300.0), _column(disc_hu=80.0, upper=False)):
        before = labels.copy()
        assert split_lumbar(labels, hu, g, 1, 2, 200.0, 50.0) is None
        assert np.array_equal(labels, before)


def test_phantom_has_no_lumbar_spine(phantom_bone):
    """The phantom's sacrum has no vertebra above it: no lumbar component (its model is bit-identical with and
    without the split, checked when it was added)."""
    assert not [c for c in phantom_bone.components if c["kind"] == "lumbar spine"]
    assert any(c["kind"] == "sacrum" for c in phantom_bone.components)


def test_visible_human_l5_is_split_off_at_the_lumbosacral_disc(real_bone_1mm):
    """The Visible Human at 1 mm: L5 (with the scan's top, z 539) was part of the sacrum. Measured by hand in the CT
    on the midline (x 260-264, LPS mm): at y 275 the S1 endplate's cortex peaks at z 487 (384 HU), the disc reads 50-76
    HU over z 492-500 and L5's lower endplate peaks at z 504-505 (518 HU); at y 285 the S1 endplate at z 495, the disc
    (86-125 HU) over z 499-503, L5's endplate at z 507. The disc's middle: z 496 at y 275, z 501 at y 285."""
    bone = real_bone_1mm
    names = {c["name"]: c for c in bone.components}
    assert "lumbar spine" in names and names["lumbar spine"]["kind"] == "lumbar spine"
    sacrum, lumbar = (bone.component_points_lps(names[n]) for n in ("sacrum", "lumbar spine"))
    for y, disc_middle in ((275.0, 496.0), (285.0, 501.0)):
        column = (np.abs(sacrum[:, 0] - 262.0) <= 7.0) & (sacrum[:, 1] == y)
        assert column.any() and sacrum[column, 2].max() < disc_middle + 3.0, y
        column = (np.abs(lumbar[:, 0] - 262.0) <= 7.0) & (lumbar[:, 1] == y)
        assert column.any() and lumbar[column, 2].min() > disc_middle - 3.0, y
    front = (np.abs(sacrum[:, 0] - 262.0) <= 12.0) & (sacrum[:, 1] < 300.0)  # the S1 body's column
    assert sacrum[front, 2].max() < 507.0  # below L5's lower endplate
    # L5 whole (a lumbar vertebra of an adult man: about 40 mL of body and 20-30 mL of arch) and a little of L4's arch
    assert 50.0 < names["lumbar spine"]["volume_ml"] < 90.0
    assert 150.0 < names["sacrum"]["volume_ml"] < 220.0


def test_visible_human_disc_is_no_sacral_tunnel(real_bone_1mm):
    """With L5 split off, the L5-S1 disc (enclosed between L5 and S1 before, found as a 'sacral tunnel' at z 495-506)
    is no no-go structure; the sacral canal (above 10 mL, from the lower sacrum up to S1) and the right S1 foramen
    are still found."""
    nogo = {n.name: n for n in real_bone_1mm.nogo_structures()}
    assert not [n for name, n in nogo.items() if name.startswith("sacral tunnel") and n.points_lps[:, 2].max() > 487.0]
    canal = nogo["sacral canal"]
    assert len(canal.points_lps) * real_bone_1mm.geometry.voxel_volume_mm3 / 1000.0 > 10.0
    assert canal.points_lps[:, 2].min() < 410.0 and canal.points_lps[:, 2].max() > 490.0
    assert "right S1 foramen" in nogo
