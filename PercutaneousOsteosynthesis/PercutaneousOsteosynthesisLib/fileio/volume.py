"""Reading CT volumes (NRRD, NIfTI, MHA, DICOM series folders) and writing image files.

Everything is returned in LPS with the file's own direction matrix kept: nothing is resampled.
Bad input raises :class:`PosteoInputError` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import PosteoInputError
from ..geometry.frames import ImageGeometry
from .atomic import atomic_path

# A CT in Hounsfield units contains air or fat (well below -200 HU) and nothing far below -1024 HU.
MIN_HU_EXPECTED = -200.0
LOWEST_PLAUSIBLE_HU = -3100.0


@dataclass
class CTVolume:
    """A CT image: voxel values (HU) indexed ``[k, j, i]`` and the grid geometry (LPS)."""

    array: np.ndarray
    geometry: ImageGeometry
    source: str = "<memory>"
    sha256: str = ""
    meta: dict = field(default_factory=dict)
    # (array, its 1 mm working CT) kept by bone.ct_quality.working_ct: not copied by dataclasses.replace
    working_cache: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def to_sitk(self) -> sitk.Image:
        return image_from_array(self.array, self.geometry)


def geometry_of(image: sitk.Image) -> ImageGeometry:
    return ImageGeometry(tuple(int(s) for s in image.GetSize()), tuple(float(s) for s in image.GetSpacing()),
                         tuple(float(o) for o in image.GetOrigin()), tuple(float(d) for d in image.GetDirection()))


def image_from_array(array: np.ndarray, geometry: ImageGeometry) -> sitk.Image:
    """SimpleITK image from a ``[k, j, i]`` array with the given geometry."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(geometry.spacing)
    img.SetOrigin(geometry.origin_lps)
    img.SetDirection(geometry.direction)
    return img


class _ImageBuffer:
    """Keeps a SimpleITK image alive for the numpy array made of its pixel buffer (``__array_interface__``)."""

    def __init__(self, image: sitk.Image):
        self.image = image
        view = sitk.GetArrayViewFromImage(image)  # read-only view; the image is made the buffer's only owner
        self.__array_interface__ = dict(view.__array_interface__, data=(view.__array_interface__["data"][0], False))


def array_of_image(image: sitk.Image) -> np.ndarray:
    """A writable ``[k, j, i]`` numpy array on a SimpleITK image's own pixel buffer (no copy: a large result is not
    allocated a second time), keeping the image alive as long as the array is."""
    return np.asarray(_ImageBuffer(image))


def file_sha256(path) -> str:
    """sha256 of a file, or of all files of a folder (sorted by name)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _read_image(path: Path) -> sitk.Image:
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        series = reader.GetGDCMSeriesIDs(str(path))
        if not series:
            raise PosteoInputError(path, "folder holds no DICOM series")
        # the series with the most slices
        files = max((reader.GetGDCMSeriesFileNames(str(path), s) for s in series), key=len)
        reader.SetFileNames(files)
        try:
            return reader.Execute()
        except RuntimeError as exc:
            raise PosteoInputError(path, f"DICOM series cannot be read ({_first_line(exc)})") from None
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        text = str(exc).lower()
        if "zero-valued spacing" in text or ("spacing" in text and "(0)" in text):
            raise PosteoInputError(path, "has zero voxel spacing; a CT volume needs positive spacing on every axis") from None
        raise PosteoInputError(path, f"not a readable image file, or the file is corrupt ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:  # ITK messages put the useful text after "Description:"
        if "escription:" in ln:
            return ln.split("escription:", 1)[1].strip()[:200]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def validate_ct_image(image: sitk.Image, source) -> None:
    """Raise :class:`PosteoInputError` unless ``image`` is a usable 3D scalar CT in HU."""
    dim = image.GetDimension()
    if dim == 2:
        raise PosteoInputError(source, "is a 2D image; a CT volume (3D) is needed")
    if dim == 4 or (dim == 3 and image.GetNumberOfComponentsPerPixel() > 1):
        raise PosteoInputError(source, f"has {dim} dimensions and {image.GetNumberOfComponentsPerPixel()} components per voxel "
                                       "(a time series or colour image); a single 3D scalar CT volume is needed")
    if dim != 3:
        raise PosteoInputError(source, f"has {dim} dimensions; a 3D CT volume is needed")
    size = image.GetSize()
    if min(size) < 2:
        raise PosteoInputError(source, f"is a single slice ({size[0]}x{size[1]}x{size[2]}); a CT volume with several slices is needed")
    spacing = np.array(image.GetSpacing(), float)
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise PosteoInputError(source, f"has zero, negative or undefined voxel spacing {tuple(spacing)}")
    d = np.array(image.GetDirection(), float).reshape(3, 3)
    if not np.all(np.isfinite(d)) or abs(abs(np.linalg.det(d)) - 1.0) > 1e-3:
        raise PosteoInputError(source, "has an invalid (non-orthonormal) direction matrix")
    if not np.all(np.isfinite(image.GetOrigin())):
        raise PosteoInputError(source, "has an undefined origin")


def validate_hounsfield(array: np.ndarray, source) -> None:
    """Raise unless the values look like a CT in Hounsfield units (air/fat present, nothing absurdly low)."""
    if array.size == 0:
        raise PosteoInputError(source, "is empty")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array[:: max(1, array.shape[0] // 16)])):
        raise PosteoInputError(source, "contains NaN or infinite voxel values")
    sample = array[:: max(1, array.shape[0] // 32)].ravel()
    lo = float(np.percentile(sample, 0.5))
    mn = float(sample.min())
    if lo > MIN_HU_EXPECTED:
        raise PosteoInputError(source, f"does not look like a CT in Hounsfield units: its lowest values ({lo:.0f}) contain no air "
                                       f"or fat (below {MIN_HU_EXPECTED:.0f} HU); an MR or unscaled image?")
    if mn < LOWEST_PLAUSIBLE_HU:
        raise PosteoInputError(source, f"does not look like a CT in Hounsfield units: values down to {mn:.0f} (rescale slope/intercept missing?)")


def read_ct(path, check_hounsfield: bool = True) -> CTVolume:
    """Read a CT volume in HU from NRRD, NIfTI, MHA (any ITK format) or a DICOM series folder.

    Returns a :class:`CTVolume` whose array is float32 HU indexed ``[k, j, i]`` and whose geometry is LPS.
    """
    path = Path(path)
    if not path.exists():
        raise PosteoInputError(path, "file not found")
    image = _read_image(path)
    validate_ct_image(image, path)
    array = sitk.GetArrayFromImage(image)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise PosteoInputError(path, f"has unsupported voxel type {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if check_hounsfield:
        validate_hounsfield(array, path)
    return CTVolume(array, geometry_of(image), str(path), file_sha256(path))


def write_image(path, array: np.ndarray, geometry: ImageGeometry, compress: bool = True) -> Path:
    """Write an image (format from the extension) atomically, with the given LPS geometry."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sitk.WriteImage(image_from_array(array, geometry), str(tmp), compress)
    return path


def averaged_to_spacing(ct: CTVolume, spacing_mm: float) -> CTVolume:
    """The CT averaged in blocks to about ``spacing_mm`` (integer factor per axis, at least 1): the partial volume of
    a thicker reconstruction, as a staging CT would show the same anatomy (geometry.resample.block_average)."""
    from ..geometry.resample import block_average

    factors = [max(1, int(round(spacing_mm / s))) for s in ct.geometry.spacing]
    arr, geo = block_average(ct.array, ct.geometry, factors)
    return CTVolume(arr, geo, f"{ct.source} (averaged to {spacing_mm:g} mm)", "", dict(ct.meta))
