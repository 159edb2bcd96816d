"""Offscreen 3D views: radiological orientation checked with markers at known LPS positions, whatever the
direction matrix of the grid the marker surfaces come from; grade colours; PNG writing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from PercutaneousOsteosynthesisLib.bone.surface import mask_surface_lps
from PercutaneousOsteosynthesisLib.phantom.ct import covering_geometry
from PercutaneousOsteosynthesisLib.report.render import render_views, save_png
from PercutaneousOsteosynthesisLib.screws.screw import Screw

MAGENTA = (0.85, 0.20, 0.85)


def _sphere_mesh(centre_lps, radius, direction):
    geo = covering_geometry(np.asarray(centre_lps) - radius - 3, np.asarray(centre_lps) + radius + 3, 1.0, direction)
    nk, nj, ni = geo.shape_kji
    k, j, i = np.mgrid[0:nk, 0:nj, 0:ni]
    p = geo.ijk_to_lps(np.stack([i, j, k], -1).reshape(-1, 3).astype(float))
    mask = (np.linalg.norm(p - centre_lps, axis=1) <= radius).reshape(nk, nj, ni)
    return mask_surface_lps(mask, geo)


def _magenta(rgb):
    r, g, b = (rgb[..., n].astype(int) for n in range(3))
    return (r > 60) & (b > 60) & (g < 0.6 * np.minimum(r, b))


def _green(rgb):
    r, g, b = (rgb[..., n].astype(int) for n in range(3))
    return (g > 60) & (r < 0.6 * g) & (b < 0.6 * g)


def _centroid(mask):
    rows, cols = np.nonzero(mask)
    assert len(rows) > 50
    return rows.mean() / mask.shape[0], cols.mean() / mask.shape[1]


@pytest.mark.parametrize("direction", ["identity", "flipped", "oblique"])
def test_left_marker_on_the_right_in_ap(direction):
    """A sphere at patient left (+x), a little anterior (-y) and superior (+z), and a screw at patient right."""
    marker = _sphere_mesh(np.array([60.0, -60.0, 30.0]), 12.0, direction)
    screw = Screw("right", [-70.0, 0.0, -20.0], [-40.0, 0.0, -20.0], 7.0)
    views = render_views(None, [(screw, "excellent")], [("marker", marker, MAGENTA)],
                         views=("AP", "PA", "lateral", "inlet", "outlet"), size=(300, 240))
    for name, img in views.items():
        assert img.shape == (240, 300, 3) and img.dtype == np.uint8
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 30, name
    # AP: patient left on the image's right, superior up; the right-sided screw on the left half
    row, col = _centroid(_magenta(views["AP"]))
    assert col > 0.6 and row < 0.45
    assert _centroid(_green(views["AP"]))[1] < 0.4
    # PA mirrors left and right
    assert _centroid(_magenta(views["PA"]))[1] < 0.4
    # lateral from the patient's left: anterior on the image's left, superior up
    row, col = _centroid(_magenta(views["lateral"]))
    assert col < 0.45 and row < 0.45
    for v in ("inlet", "outlet"):
        assert _centroid(_magenta(views[v]))[1] > 0.6
        assert _centroid(_green(views[v]))[1] < 0.4


def test_inlet_outlet_tilt():
    """Inlet looks down from anterior-superior: a posterior point rises in the image relative to an anterior point
    at the same height; outlet (from anterior-inferior) the reverse."""
    front = _sphere_mesh(np.array([0.0, -60.0, 0.0]), 8.0, "identity")
    back = Screw("back", [-8.0, 60.0, 0.0], [8.0, 60.0, 0.0], 10.0)
    v = render_views(None, [(back, "excellent")], [("front", front, MAGENTA)], views=("AP", "inlet", "outlet"), size=(240, 240),
                     labels=False)
    dz = {k: _centroid(_green(img))[0] - _centroid(_magenta(img))[0] for k, img in v.items()}  # row: down is positive
    assert abs(dz["AP"]) < 0.03
    assert dz["inlet"] < -0.2  # posterior object higher
    assert dz["outlet"] > 0.2


def test_grade_colours_and_bone(phantom_bone, phantom, tmp_path):
    truth = phantom[1]
    paths = truth["screw_paths"]
    screws = [(Screw(p["name"], p["entry_lps"], p["tip_lps"], p["diameter_mm"]), "excellent" if p["min_clearance_mm"] >= 1 else "breach")
              for p in paths]
    img = render_views(phantom_bone.surface_polydata_lps(), screws, views=("AP",), size=(320, 320))["AP"]
    r, g, b = (img[..., n].astype(int) for n in range(3))
    assert ((r > 120) & (g < 0.5 * r) & (b < 0.5 * r)).sum() > 30  # red breach screws
    assert _green(img).sum() > 30
    # the bone (ivory/grey) covers a large part of the picture
    bone_px = (r > 60) & (abs(r - g) < 40) & (abs(g - b) < 50)
    assert bone_px.mean() > 0.1
    # everything of the phantom is patient-left-heavy for the screws: all truth screws are on the left
    assert _centroid(_green(img))[1] > 0.5
    out = save_png(img, tmp_path / "ap.png")
    back = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(back, img)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_nothing_to_render_is_an_input_error():
    from PercutaneousOsteosynthesisLib.errors import PosteoInputError

    with pytest.raises(PosteoInputError):
        render_views(None, [])
    with pytest.raises(PosteoInputError):
        render_views(None, [(Screw("a", [0, 0, 0], [0, 0, 10], 5.0), "excellent")], views=("top",))
