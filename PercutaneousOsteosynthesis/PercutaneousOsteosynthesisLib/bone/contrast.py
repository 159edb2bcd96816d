"""Contrast-enhanced soft tissue that reads as bone: iliac vessels, the bladder and bowel after contrast.

Staging CTs are contrast-enhanced: arteries and veins read 150-450 HU, the opacified bladder 300-600 HU, above the bone
threshold. Such a structure next to the pelvic wall (the external iliac vessels along the pelvic brim and the
quadrilateral plate, the obturator vessels under the superior ramus) became a "bone" of its own or part of the hip
bone (74-87 % of an 8 mm vessel 0-1 mm from the phantom's wall): a screw leaving the hip bone into the vessel read as
still in bone at its tip. A bladder full of contrast would be a bone too.

On a native grid (no axis above ``bone.ct_quality.RESAMPLE_ABOVE_MM``) every bone shows cortex: its outer shell reaches
the cortex threshold in at least some voxels (a 1 mm cortex of 900 HU reads 600-900 HU in 1 mm voxels, and dense bone
far more). A candidate component with fewer than ``MIN_CORTEX_FRACTION`` of its voxels at the cortex threshold is
soft tissue. On a coarse CT a thin cortex averaged with marrow reads as low as contrast does, and the rule would take
bone: it is not applied there.

Contrast that the partial volume of a thin gap joins to a bone (a 300 HU vessel 1 mm from the medial acetabular wall
on an oblique grid: 85 % of its voxels read as part of the hip bone) is cut off at the voxels next to cortex-level
voxels: what is left of the component beyond them (``contrast_pieces``) is a piece of its own. A piece of at least
``MIN_PIECE_ML`` is contrast when it is homogeneous and lies beside the cortex, not within it:
- the interquartile range of its HU one voxel in from its edge is within ``HOMOGENEOUS_IQR_NOISE`` times the CT's
  noise and ``HOMOGENEOUS_IQR_MAX_HU``: a lumen varies by noise alone, cancellous bone by its trabeculae (114-150 HU
  on the Visible Human at 1 mm, with 15 HU of noise; 85 HU for a piece by the pubic symphysis, where the soft tissue
  around it read 28 HU of noise);
- it touches the voxels next to cortex over less than ``MAX_CORTEX_CONTACT`` of its surface: the phantom's cancellous
  bone, as homogeneous as a vessel, touches them over 83-100 %, the Visible Human's 9-49 %, a joined vessel under 1 %.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from ..geometry import morphology
from ..geometry.bounding_box import grown_box
from .ct_noise import noise_sd_hu
from .nogo import ENHANCED, NogoStructure

MIN_CORTEX_FRACTION = 0.01
MIN_PIECE_ML = 0.5
HOMOGENEOUS_IQR_NOISE = 3.0
HOMOGENEOUS_IQR_MAX_HU = 60.0  # and never more than this: a lumen's spread at 40 HU of noise
MAX_CORTEX_CONTACT = 0.1
NOISE_REACH_MM = 10.0  # the noise is measured in the soft tissue this far around a piece
CONTRAST_STRUCTURE = "contrast-enhanced vessel or organ"  # the no-go structure of what was left out


def contrast_components(labels_cc: np.ndarray, hu: np.ndarray, cortex_threshold_hu: float, objects: list) -> dict[int, int]:
    """{label: voxel count} of the components of ``labels_cc`` (candidate bone, 1..n, 0 background) with fewer than
    ``MIN_CORTEX_FRACTION`` of their voxels at or above ``cortex_threshold_hu`` in ``hu`` (the CT on the same grid);
    ``objects``: ``ndimage.find_objects(labels_cc)``.  Each component counted in its own box, two at a time."""
    def counts(lab_box):
        lab, box = lab_box
        own = labels_cc[box] == lab
        size = int(np.count_nonzero(own))
        own &= hu[box] >= cortex_threshold_hu
        return lab, size, int(np.count_nonzero(own))

    present = [(lab, box) for lab, box in enumerate(objects, start=1) if box is not None]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(counts, present))
    return {lab: size for lab, size, dense in found if dense < MIN_CORTEX_FRACTION * max(size, 1)}


def _is_contrast(piece: np.ndarray, hu: np.ndarray, rim: np.ndarray, soft: np.ndarray) -> bool:
    """Whether one piece (bool, on a box holding it with soft tissue around) is homogeneous and touches the bone's
    ``rim`` (its voxels next to cortex) over less than ``MAX_CORTEX_CONTACT`` of its surface; ``soft``: non-bone.
    The cheap tests first: the noise is measured only for a piece that passes them."""
    core = morphology.erode(piece, 1)
    if np.count_nonzero(core) < 50:
        return False
    q1, q3 = np.percentile(hu[core], [25.0, 75.0])
    if q3 - q1 > HOMOGENEOUS_IQR_MAX_HU:
        return False
    surface = morphology.dilate(piece, 1) & ~piece
    if np.count_nonzero(surface & rim) >= MAX_CORTEX_CONTACT * max(1, np.count_nonzero(surface)):
        return False
    noise = noise_sd_hu(hu, soft)
    return 0.0 < noise and q3 - q1 <= HOMOGENEOUS_IQR_NOISE * noise


def _in_box(values: np.ndarray, at: tuple, box: tuple) -> np.ndarray:
    """A bool array of ``box``'s shape (slices of the whole grid) holding ``values``, an array on the part of the grid
    ``at`` (slices), where the two boxes overlap; False elsewhere."""
    out = np.zeros(tuple(b.stop - b.start for b in box), bool)
    lo = [max(a.start, b.start) for a, b in zip(at, box)]
    hi = [min(a.stop, b.stop) for a, b in zip(at, box)]
    if all(h > l_ for l_, h in zip(lo, hi)):
        out[tuple(slice(l_ - b.start, h - b.start) for l_, h, b in zip(lo, hi, box))] = \
            values[tuple(slice(l_ - a.start, h - a.start) for l_, h, a in zip(lo, hi, at))]
    return out


def _component_contrast(labels_cc: np.ndarray, hu: np.ndarray, lab: int, box: tuple, cortex_threshold_hu: float,
                        min_voxels: float, reach: list) -> list:
    """[(box on the whole grid, bool piece on it)] of the pieces of component ``lab`` (in ``box``) that are contrast."""
    # the pieces are cut in the component's own box; each large one is then judged in its box grown by the noise's
    # reach (soft tissue around it), on the whole grid
    own = labels_cc[box] == lab
    rim = morphology.dilate(own & (hu[box] >= cortex_threshold_hu), 1)
    rim &= own
    own &= ~rim
    pieces, _ = ndimage.label(own)
    del own
    found = []
    for p, pbox in enumerate(ndimage.find_objects(pieces), start=1):
        if pbox is None or np.prod([s.stop - s.start for s in pbox]) < min_voxels:
            continue
        piece = pieces[pbox] == p
        if np.count_nonzero(piece) < min_voxels:
            continue
        at = tuple(slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, pbox))  # on the whole grid
        local = grown_box(at, reach, labels_cc.shape)
        piece = _in_box(piece, at, local)
        if _is_contrast(piece, hu[local], _in_box(rim, box, local), labels_cc[local] == 0):
            found.append((local, piece))
    return found


def contrast_pieces(labels_cc: np.ndarray, hu: np.ndarray, spacing_kji, cortex_threshold_hu: float,
                    objects: list) -> np.ndarray | None:
    """The voxels of the components of ``labels_cc`` that are contrast joined to a bone (see module doc), or None;
    ``objects``: ``ndimage.find_objects(labels_cc)``.  Two components at a time (numpy and SciPy's labelling release
    the GIL)."""
    sp = np.asarray(spacing_kji, float)
    min_voxels = MIN_PIECE_ML * 1000.0 / float(np.prod(sp))
    reach = [int(np.ceil(NOISE_REACH_MM / s)) for s in sp]
    present = [(lab, box) for lab, box in enumerate(objects, start=1) if box is not None]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda lb: _component_contrast(labels_cc, hu, lb[0], lb[1], cortex_threshold_hu, min_voxels, reach),
                              present))
    out = None
    for local, piece in (f for component in found for f in component):
        if out is None:
            out = np.zeros(labels_cc.shape, bool)
        out[local] |= piece
    return out


def contrast_structure(kji: np.ndarray, geometry) -> NogoStructure | None:
    """The no-go structure (kind ``ENHANCED``) of the voxels left out as contrast (``kji``: their [k, j, i] indices on
    ``geometry``'s grid): the screw checks, the corridors and the cement leak check keep away from the opacified vessels
    and organs beside the bone, as from the sacral canal. None when nothing was left out."""
    if len(kji) == 0:
        return None
    points = geometry.ijk_to_lps(np.asarray(kji)[:, ::-1].astype(float))
    return NogoStructure(CONTRAST_STRUCTURE, points, 0.5 * float(min(geometry.spacing)), kind=ENHANCED)


def contrast_note(volume_ml: float) -> str:
    """The report's line on the candidate bone left out as contrast (``BoneModel.contrast_ml``)."""
    return (f"{volume_ml:.1f} mL above the bone threshold without cortex (contrast-enhanced vessels, bladder or bowel) "
            "was left out of the bone")
