"""The copy-free helpers of the bone model give what the plain computation gives: bounding boxes, sampling a cropped
view, the component summary read slab by slab, and numpy arrays on SimpleITK's own buffers."""

import gc

import numpy as np
import SimpleITK as sitk

from PercutaneousOsteosynthesisLib.bone.components import component_summary
from PercutaneousOsteosynthesisLib.bone.distance_field import signed_distance_mm
from PercutaneousOsteosynthesisLib.fileio.volume import array_of_image
from PercutaneousOsteosynthesisLib.geometry.bounding_box import bounding_box
from PercutaneousOsteosynthesisLib.geometry.frames import ImageGeometry
from PercutaneousOsteosynthesisLib.geometry.sampling import VolumeSampler

OBLIQUE = (0.9902680687415704, 0.1386435052934044, -0.012129734984669321, 0.13917310096006544, -0.9864997997699047,
           0.08630754905046058, 0.0, -0.08715574274765817, -0.9961946980917455)


def test_bounding_box_matches_the_nonzero_voxels():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = np.zeros(rng.integers(1, 12, 3), np.uint8)
        for _ in range(rng.integers(0, 4)):
            m[tuple(rng.integers(0, s) for s in m.shape)] = rng.integers(1, 5)
        pad = int(rng.integers(0, 3))
        kji = np.argwhere(m)
        expected = None if len(kji) == 0 else tuple(slice(max(0, int(lo) - pad), min(n, int(hi) + pad + 1))
                                                   for lo, hi, n in zip(kji.min(axis=0), kji.max(axis=0), m.shape))
        assert bounding_box(m, pad) == expected


def test_sampler_reads_a_cropped_view_as_its_copy():
    rng = np.random.default_rng(1)
    a = rng.random((40, 50, 60)).astype(np.float32)
    view = a[3:37, 5:44, 2:58]
    geo = ImageGeometry(view.shape[::-1], (0.7, 0.8, 1.1), (1.0, 2.0, 3.0), OBLIQUE)
    points = geo.ijk_to_lps(rng.random((5000, 3)) * np.array(view.shape[::-1]) - 1.5)
    assert np.array_equal(VolumeSampler(view, geo, -5.0)(points), VolumeSampler(np.ascontiguousarray(view), geo, -5.0)(points))


def test_component_summary_equals_all_points_at_once():
    rng = np.random.default_rng(2)
    labels = (rng.random((45, 30, 35)) < 0.3).astype(np.uint16) * 2
    geo = ImageGeometry(labels.shape[::-1], (0.78, 0.78, 1.25), (-197.1, 108.9, 106.2), OBLIQUE)
    box = (slice(4, 41), slice(2, 29), slice(0, 35))
    kji = np.argwhere(labels[box] == 2) + [s.start for s in box]
    pts = geo.ijk_to_lps(kji[:, ::-1].astype(float))
    got = component_summary(labels, 2, box, geo, slab=5)
    assert got["centroid_lps"] == pts.mean(axis=0).tolist()
    assert got["bounds_lps"] == (pts.min(axis=0).tolist(), pts.max(axis=0).tolist())
    assert got["volume_ml"] == len(kji) * geo.voxel_volume_mm3 / 1000.0
    assert component_summary(labels, 7, box, geo) is None


def test_array_of_image_is_writable_and_keeps_the_image():
    img = sitk.Image([5, 4, 3], sitk.sitkFloat32)
    img[1, 2, 0] = 7.0
    a = array_of_image(img)
    del img
    gc.collect()
    assert a.shape == (3, 4, 5) and a.flags.writeable and a[0, 2, 1] == 7.0
    a[2, 3, 4] = 1.5
    assert a.sum() == 8.5


def test_signed_distance_of_labels_equals_that_of_their_mask():
    rng = np.random.default_rng(3)
    labels = np.zeros((30, 32, 34), np.uint8)
    labels[8:22, 9:25, 5:30] = rng.integers(1, 5, (14, 16, 25))
    labels[12:15, 14:17, 10:20] = 0
    geo = ImageGeometry(labels.shape[::-1], (0.8, 0.9, 1.3), (0.0, 0.0, 0.0), OBLIQUE)
    assert np.array_equal(signed_distance_mm(labels, geo), signed_distance_mm(labels > 0, geo))
