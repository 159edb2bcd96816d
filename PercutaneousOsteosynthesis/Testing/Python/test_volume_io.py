"""CT reading: every supported format gives the same HU and LPS geometry; DICOM series folders included."""

import numpy as np
import pytest
import SimpleITK as sitk

from PercutaneousOsteosynthesisLib.errors import PosteoInputError
from PercutaneousOsteosynthesisLib.fileio.volume import read_ct, write_image
from PercutaneousOsteosynthesisLib.phantom.ct import make_phantom


@pytest.fixture(scope="module")
def small_phantom():
    return make_phantom(spacing=4.0, direction="oblique")[0]


def _write_dicom_series(ct, folder):
    """Write the CT as a DICOM series (one file per slice, LPS position/orientation tags), as a scanner would."""
    img = ct.to_sitk()
    img = sitk.Cast(img, sitk.sitkInt16)
    d = np.array(img.GetDirection()).reshape(3, 3)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series = "1.2.826.0.1.3680043.2.1125.1.4242"
    for k in range(img.GetDepth()):
        sl = img[:, :, k]
        pos = img.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {"0008|0060": "CT", "0020|000e": series, "0020|000d": series + ".1",
                "0020|0032": "\\".join(f"{v:.6f}" for v in pos),
                "0020|0037": "\\".join(f"{v:.9f}" for v in (*d[:, 0], *d[:, 1])),
                "0020|0013": str(k + 1), "0028|0030": f"{img.GetSpacing()[1]}\\{img.GetSpacing()[0]}",
                "0018|0050": str(img.GetSpacing()[2]), "0028|1052": "0", "0028|1053": "1",
                "0008|0018": f"{series}.{k + 1}"}
        for key, value in tags.items():
            sl.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:04d}.dcm"))
        writer.Execute(sl)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".mha"])
def test_formats_roundtrip_geometry(small_phantom, tmp_path, suffix):
    path = write_image(tmp_path / f"ct{suffix}", small_phantom.array.astype(np.int16), small_phantom.geometry)
    ct = read_ct(path)
    assert np.array_equal(ct.array, small_phantom.array)
    assert np.allclose(ct.geometry.ijk_to_lps_matrix(), small_phantom.geometry.ijk_to_lps_matrix(), atol=1e-4)
    assert len(ct.sha256) == 64


def test_dicom_series_folder(small_phantom, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    _write_dicom_series(small_phantom, folder)
    ct = read_ct(folder)
    assert ct.array.shape == small_phantom.array.shape
    assert np.array_equal(ct.array, small_phantom.array)
    assert np.allclose(ct.geometry.ijk_to_lps_matrix(), small_phantom.geometry.ijk_to_lps_matrix(), atol=1e-3)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PosteoInputError, match="no DICOM series"):
        read_ct(tmp_path)
