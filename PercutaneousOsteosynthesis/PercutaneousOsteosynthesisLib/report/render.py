"""Offscreen 3D pictures of a plan (bone, screws, lesions, cement) in the radiographic views, as RGB arrays.

All meshes are in LPS mm.  Parallel projection (like a radiograph); the cameras, for the world in LPS:

* ``AP``: viewer in front of the patient (camera anterior, at -y), looking posteriorly; superior up, the
  patient's LEFT on the image's RIGHT (radiological convention);
* ``PA``: from behind; the patient's left on the image's left;
* ``lateral``: viewer at the patient's LEFT side (camera at +x) looking to the right; superior up, anterior on
  the image's left, posterior on its right;
* ``inlet``: the AP beam tilted caudally (tube anterior-superior, looking down into the pelvic ring) by the
  patient's fitted inlet angle (``bone.pelvic_views``; the screening angle when none is given); the patient's left on
  the image's right;
* ``outlet``: the AP beam tilted cranially (tube anterior-inferior) by the fitted outlet angle; left on the right.

Offscreen rendering: with no X display (Linux), VTK's EGL window (Mesa) is used, else the platform default
window with ``SetOffScreenRendering(1)``.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from ..bone.pelvic_views import SCREENING_INLET_DEG, SCREENING_OUTLET_DEG
from ..errors import PosteoInputError
from ..fileio.atomic import atomic_path
from ..palette import BACKGROUND_RGB, BONE_SURFACE_RGB, CEMENT_RGB, grade_rgb, lesion_rgb

BONE_OPACITY = 0.35


def view_camera_lps(view: str, inlet_deg: float = SCREENING_INLET_DEG, outlet_deg: float = SCREENING_OUTLET_DEG):
    """(unit direction from the scene centre to the camera, view-up), both LPS, of a named view; the inlet and outlet
    tilts in degrees (caudal and cranial)."""
    ci, si = np.cos(np.radians(inlet_deg)), np.sin(np.radians(inlet_deg))
    co, so = np.cos(np.radians(outlet_deg)), np.sin(np.radians(outlet_deg))
    table = {
        "AP": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
        "PA": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        "lateral": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
        "inlet": ((0.0, -ci, si), (0.0, si, ci)),
        "outlet": ((0.0, -co, -so), (0.0, -so, co)),
    }
    if view not in table:
        raise PosteoInputError(f"view '{view}'", f"unknown view; choose from {', '.join(table)}")
    to_camera, up = table[view]
    return np.array(to_camera), np.array(up)


def _no_display() -> bool:
    return sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def new_offscreen_window(size=(800, 800)):
    """An offscreen vtkRenderWindow: EGL when there is no X display on Linux (headless), else the default one."""
    win = None
    if _no_display():
        try:
            from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

            win = vtkEGLRenderWindow()
        except ImportError:  # a VTK build without EGL
            win = None
    if win is None:
        win = vtk.vtkRenderWindow()
    win.SetOffScreenRendering(1)
    win.SetSize(int(size[0]), int(size[1]))
    win.SetMultiSamples(0)
    win.SetAlphaBitPlanes(1)
    return win


def _actor(polydata, rgb, opacity=1.0):
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputData(polydata)
    mapper.ScalarVisibilityOff()
    actor = vtk.vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetColor(*rgb)
    prop.SetOpacity(opacity)
    prop.SetSpecular(0.2)
    prop.SetSpecularPower(20)
    return actor


def _named(meshes):
    """Accept vtkPolyData or (name, vtkPolyData[, rgb]) items -> list of (polydata, rgb or None)."""
    out = []
    for m in meshes or []:
        if isinstance(m, (tuple, list)):
            out.append((m[1], tuple(m[2]) if len(m) > 2 and m[2] is not None else None))
        else:
            out.append((m, None))
    return out


def _grab(win) -> np.ndarray:
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(win)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.Update()
    img = grab.GetOutput()
    w, h, _ = img.GetDimensions()
    rgb = vtk_to_numpy(img.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
    return np.ascontiguousarray(rgb[::-1])  # VTK rows go bottom-up


def _label(text, pos, size, ren, corner=None):
    t = vtk.vtkTextActor()
    t.SetInput(text)
    p = t.GetTextProperty()
    p.SetFontSize(size)
    p.SetColor(1.0, 1.0, 1.0)
    p.BoldOn()
    if corner is not None:
        p.SetJustification(corner[0])
        p.SetVerticalJustification(corner[1])
    t.SetPosition(*pos)
    ren.AddViewProp(t)


SIDE_LETTERS = {"AP": ("R", "L"), "PA": ("L", "R"), "lateral": ("A", "P"), "inlet": ("R", "L"), "outlet": ("R", "L")}


def render_views(bone_surface_lps=None, screws=(), lesion_meshes=(), cement_meshes=(),
                 views=("AP", "lateral", "inlet", "outlet"), size=(800, 800), labels: bool = True, tilts: dict | None = None) -> dict:
    """Render the scene offscreen in each named view; returns ``{view: uint8 RGB array (height, width, 3)}``.

    ``bone_surface_lps``: vtkPolyData (LPS) drawn semi-transparent, or None.  ``screws``: (Screw, grade) pairs,
    coloured by grade (green excellent, yellow acceptable, red breach).  ``lesion_meshes``/``cement_meshes``:
    vtkPolyData or (name, vtkPolyData[, rgb]).  ``labels``: the view's name and the side letters at the image
    edges (e.g. R on the left and L on the right in AP).  ``tilts``: ``bone.pelvic_views.fitted_inlet_outlet_deg``
    (screening angles when None).
    """
    from ..screws.model import screw_polydata_lps

    ren = vtk.vtkRenderer()
    ren.SetBackground(*BACKGROUND_RGB)
    ren.SetUseDepthPeeling(1)
    ren.SetMaximumNumberOfPeels(8)
    ren.SetOcclusionRatio(0.0)
    actors = []
    for poly, rgb in _named(lesion_meshes):
        actors.append(_actor(poly, rgb or lesion_rgb(len(actors)), 0.9))
    for poly, rgb in _named(cement_meshes):
        actors.append(_actor(poly, rgb or CEMENT_RGB, 0.9))
    for screw, grade in screws:
        actors.append(_actor(screw_polydata_lps(screw), grade_rgb(grade)))
    if bone_surface_lps is not None:
        actors.append(_actor(bone_surface_lps, BONE_SURFACE_RGB, BONE_OPACITY))
    if not actors:
        raise PosteoInputError("render_views", "nothing to render (no bone surface, screw, lesion or cement)")
    for a in actors:
        ren.AddActor(a)
    bounds = np.array(actors[-1].GetBounds() if bone_surface_lps is not None else _union_bounds(actors)).reshape(3, 2)
    centre = bounds.mean(axis=1)
    radius = 0.5 * float(np.linalg.norm(bounds[:, 1] - bounds[:, 0])) or 10.0
    win = new_offscreen_window(size)
    win.AddRenderer(ren)
    cam = ren.GetActiveCamera()
    cam.ParallelProjectionOn()
    out = {}
    w, h = int(size[0]), int(size[1])
    for view in views:
        to_cam, up = view_camera_lps(view, (tilts or {}).get("inlet_caudal_deg", SCREENING_INLET_DEG),
                                     (tilts or {}).get("outlet_cranial_deg", SCREENING_OUTLET_DEG))
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + 4.0 * radius * to_cam))
        cam.SetViewUp(*up)
        cam.SetParallelScale(1.02 * radius * max(1.0, h / w))
        cam.SetClippingRange(0.5 * radius, 8.0 * radius)
        ren.RemoveAllViewProps()
        for a in actors:
            ren.AddActor(a)
        if labels:
            fs = max(12, h // 28)
            left, right = SIDE_LETTERS.get(view, ("", ""))
            _label(left, (8, h // 2), fs, ren, (0, 1))
            _label(right, (w - 8, h // 2), fs, ren, (2, 1))
            _label(view, (8, h - 8), fs, ren, (0, 2))
        win.Render()
        out[view] = _grab(win)
    win.Finalize()
    return out


def _union_bounds(actors) -> list:
    b = np.array([a.GetBounds() for a in actors]).reshape(-1, 3, 2)
    return np.column_stack([b[:, :, 0].min(axis=0), b[:, :, 1].max(axis=0)]).ravel().tolist()


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG (optimised) of an RGB or RGBA uint8 array (height, width, 3|4)."""
    from PIL import Image

    a = np.asarray(rgb)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise PosteoInputError("image array", f"expected uint8 (height, width, 3|4), got {a.dtype} {a.shape}")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_png(rgb: np.ndarray, path):
    """Write an RGB uint8 array (height, width, 3) as PNG, atomically; returns the path."""
    data = png_bytes(rgb)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
