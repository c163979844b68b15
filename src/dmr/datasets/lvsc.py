"""Reader of the LV Segmentation Challenge 2011 layout (Cardiac Atlas Project) into cases.

Layout: one folder per study, one 2-D DICOM per short-axis slice and phase, and a binary
myocardium mask (PNG, {0, 255} or {0, 1}) for every DICOM::

    <root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.dcm    slice 1-based, phase 0-based
    <root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.png
    <root>/validation/DETnnnnnnn/...                          split "validation" (DICOMs)
    <masks_root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.png    its consensus (CS*) masks

Indices are not zero-padded and extensions may be upper case; other files are ignored. Frame
``f`` (1-based, as everywhere in this project) is phase ``f - 1``.

Conversion choices, stated once:

* **Slice order.** A frame's 3-D volume is stacked by each slice's position along the slice
  normal (``normal = row x col`` of ImageOrientationPatient, ``position = ImagePositionPatient .
  normal``), not by the SA index, which real studies do not always number spatially. The volume's
  origin is the first slice's ImagePositionPatient, its direction matrix has columns
  ``[row, col, normal]``, its spacing is (column spacing, row spacing) from PixelSpacing and the
  slice step measured from the positions (SliceThickness for a single-slice study). Unevenly
  spaced slices (any gap more than 10 % off the median) cannot be represented on a regular grid
  and are an error rather than silently resampled.
* **Labels.** Mask foreground becomes label 2 (LV myocardium, :mod:`dmr.labels`); the rest is 0.
* **ED / ES.** LVSC gives no phase annotation. ED is the first frame (ph0, the R-wave trigger).
  ES is the frame whose LV cavity is smallest, the cavity being each slice's myocardium ring with
  its holes filled (``scipy.ndimage.binary_fill_holes``) minus the ring, counted in voxels and
  summed over slices (voxel counts are comparable because every frame shares one grid). Ties go
  to the earliest frame. Computing ES reads every mask of a study (PNGs only, no DICOMs).
* **Group** is ``None``: the challenge gives no diagnosis groups (all patients had infarcts).
* **Unlabelled studies.** A study folder without any mask (e.g. a held-out validation study) is
  read with ``labelled_frames = ()`` and ``label = None``; its ES cannot be measured, so
  ``es_frame`` is ``0`` (outside 1..n_frames: ``Case.load_phase("ES")`` raises instead of
  silently loading a wrong frame). A study with only some masks is an error.

Named steps: :func:`list_study_dirs` → :func:`index_study_files` / :func:`study_problems` →
:func:`read_dicom_slice`, :func:`read_mask` → :func:`stack_slices` → :func:`load_frame`.
:mod:`dmr.datasets.checks` reuses them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image
from scipy import ndimage

from dmr.datasets.case import Case, Frame
from dmr.errors import DatasetError
from dmr.labels import LV_MYOCARDIUM

log = logging.getLogger(__name__)

FORMAT = "lvsc"
SPLITS: tuple[str, ...] = ("training", "validation")
SOURCE_URL = "https://www.cardiacatlas.org/"

_STUDY_DIR = re.compile(r"^DET\d+$")
_SLICE_FILE = re.compile(r"^(DET\d+)_SA(\d+)_ph(\d+)\.(dcm|png)$", re.IGNORECASE)

#: DICOM tags read (group|element, as SimpleITK names them).
TAG_POSITION = "0020|0032"  # ImagePositionPatient
TAG_ORIENTATION = "0020|0037"  # ImageOrientationPatient
TAG_PIXEL_SPACING = "0028|0030"  # PixelSpacing (row spacing \ column spacing)
TAG_SLICE_THICKNESS = "0018|0050"

#: Largest allowed deviation of one slice gap from the median gap (fraction of the median).
SLICE_GAP_TOLERANCE = 0.10
#: Largest allowed difference between two slices' orientation vectors (unit vectors).
ORIENTATION_TOLERANCE = 1e-3

#: Accepted value sets of a binary mask.
BINARY_MASK_VALUES: tuple[frozenset[int], ...] = (frozenset({0, 1}), frozenset({0, 255}))

#: Folder under the dataset root where the phantoms (and, by convention, users) keep the
#: validation split's consensus (CS*) masks; any other folder can be configured.
CONSENSUS_FOLDER = "consensus"

#: ``es_frame`` of a study without masks (ES cannot be measured; see the module docstring).
UNKNOWN_FRAME = 0

SliceKey = tuple[int, int]  # (slice index, phase index) as written in the file name


def missing_root_message(root: Path) -> str:
    """Where to obtain LVSC and where to put it; used when the dataset folder is missing."""
    return (
        f"{root}: LVSC dataset folder not found. Download the LV Segmentation Challenge 2011 "
        f"data from the Cardiac Atlas Project ({SOURCE_URL}) and unpack it so that "
        f"{root / 'DET0000101'}/ exists (DET0000101_SA1_ph0.dcm and .png masks inside)."
    )


@dataclass(frozen=True)
class StudyFiles:
    """The DICOMs and masks of one study, keyed by (slice index, phase index)."""

    study_id: str
    folder: Path
    dicoms: dict[SliceKey, Path]
    masks: dict[SliceKey, Path]

    @property
    def phases(self) -> list[int]:
        """Phase indices found (0-based), sorted."""
        return sorted({phase for _, phase in self.dicoms})

    def slice_keys(self, frame: int) -> list[SliceKey]:
        """The (slice, phase) keys of frame ``frame`` (1-based), in SA-index order."""
        return sorted(key for key in self.dicoms if key[1] == frame - 1)


@dataclass(frozen=True)
class DicomSlice:
    """One 2-D DICOM's pixels (rows, cols) and the geometry tags needed to stack it."""

    path: Path
    pixels: np.ndarray
    position: np.ndarray
    row_direction: np.ndarray
    col_direction: np.ndarray
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing) as in the DICOM tag
    slice_thickness: float | None

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_direction, self.col_direction)


# --------------------------------------------------------------------------- listing
def study_root(root: Path, split: str) -> Path:
    """The folder holding the study folders of ``split``; DatasetError when absent."""
    if split not in SPLITS:
        raise DatasetError(f"{root}: unknown LVSC split {split!r}; expected one of {SPLITS}")
    if not root.is_dir():
        raise DatasetError(missing_root_message(root))
    folder = root if split == "training" else root / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: LVSC {split} folder missing. " + missing_root_message(root))
    return folder


def list_study_dirs(folder: Path) -> list[Path]:
    """Study folders (``DETnnnnnnn``) of one split folder, sorted by study id."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and _STUDY_DIR.match(p.name)),
        key=lambda p: p.name,
    )


def _index_folder(folder: Path, study_id: str, extension: str) -> dict[SliceKey, Path]:
    files: dict[SliceKey, Path] = {}
    for path in sorted(folder.iterdir()):
        m = _SLICE_FILE.match(path.name)
        if m is None or m.group(1) != study_id or not path.is_file():
            continue
        if m.group(4).lower() != extension:
            continue
        key = (int(m.group(2)), int(m.group(3)))
        if key in files:
            raise DatasetError(
                f"{folder}: two files for slice {key[0]} phase {key[1]}: "
                f"{files[key].name} and {path.name}"
            )
        files[key] = path
    return files


def index_study_files(study_dir: Path, mask_dir: Path | None = None) -> StudyFiles:
    """Sort a study folder's files into DICOMs and masks by (slice, phase).

    Only files named after the folder's own study id count. Two files for one key (``SA1`` beside
    ``SA01``, or ``.dcm`` beside ``.DCM``) are an error, since either could be meant. With
    ``mask_dir`` (the validation split's consensus images, kept apart from the download), masks
    are taken from there instead of the study folder; a missing ``mask_dir`` means no masks.
    """
    dicoms = _index_folder(study_dir, study_dir.name, "dcm")
    if mask_dir is None:
        masks = _index_folder(study_dir, study_dir.name, "png")
    else:
        masks = _index_folder(mask_dir, study_dir.name, "png") if mask_dir.is_dir() else {}
    return StudyFiles(study_id=study_dir.name, folder=study_dir, dicoms=dicoms, masks=masks)


def study_problems(files: StudyFiles, *, require_masks: bool) -> list[str]:
    """Structural problems of a study's file set (each naming the file or folder).

    A study without any mask is unlabelled, which is only a problem when ``require_masks``; a
    study with some masks needs one for every DICOM.
    """
    problems: list[str] = []
    if not files.dicoms:
        return [f"{files.folder}: no {files.study_id}_SA*_ph*.dcm files"]
    if not files.masks and require_masks:
        problems.append(f"{files.folder}: no myocardium masks ({files.study_id}_SA*_ph*.png)")
    for key in sorted(files.masks.keys() - files.dicoms.keys()):
        problems.append(f"{files.masks[key]}: mask without its DICOM image")
    for key in sorted(files.dicoms.keys() - files.masks.keys() if files.masks else ()):
        problems.append(f"{files.dicoms[key]}: missing mask {files.dicoms[key].stem}.png")
    phases = files.phases
    missing_phases = sorted(set(range(phases[-1] + 1)) - set(phases))
    if missing_phases:
        problems.append(f"{files.folder}: phases {missing_phases} missing (found {phases})")
    slices_by_phase = {p: {s for s, q in files.dicoms if q == p} for p in phases}
    all_slices = set().union(*slices_by_phase.values())
    for phase, slices in slices_by_phase.items():
        if slices != all_slices:
            problems.append(
                f"{files.folder}: phase {phase} lacks slice(s) {sorted(all_slices - slices)}"
            )
    return problems


# --------------------------------------------------------------------------- reading files
def _floats(reader: sitk.ImageFileReader, tag: str, path: Path, count: int) -> np.ndarray:
    if not reader.HasMetaDataKey(tag):
        raise DatasetError(f"{path}: DICOM tag {tag} missing")
    text = reader.GetMetaData(tag)
    try:
        values = np.array([float(v) for v in text.strip().split("\\")], dtype=float)
    except ValueError as exc:
        raise DatasetError(f"{path}: DICOM tag {tag} is not numeric: {text!r}") from exc
    if values.size != count:
        raise DatasetError(f"{path}: DICOM tag {tag} has {values.size} values, expected {count}")
    return values


def read_dicom_slice(path: Path) -> DicomSlice:
    """Read one 2-D DICOM and its geometry tags; corrupt files become a DatasetError."""
    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")  # upper-case .DCM would not select it by extension
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
        image = reader.Execute()
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise DatasetError(f"{path}: unreadable or corrupt DICOM ({reason})") from exc
    pixels = sitk.GetArrayFromImage(image)
    if pixels.ndim == 3 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim != 2:
        raise DatasetError(f"{path}: expected one 2-D slice, got pixel array {pixels.shape}")
    orientation = _floats(reader, TAG_ORIENTATION, path, 6)
    row, col = orientation[:3], orientation[3:]
    if np.linalg.norm(row) < 0.5 or np.linalg.norm(col) < 0.5:
        raise DatasetError(f"{path}: degenerate ImageOrientationPatient {orientation.tolist()}")
    spacing = _floats(reader, TAG_PIXEL_SPACING, path, 2)
    if np.any(spacing <= 0):
        raise DatasetError(f"{path}: PixelSpacing must be positive, got {spacing.tolist()}")
    thickness = (
        float(_floats(reader, TAG_SLICE_THICKNESS, path, 1)[0])
        if reader.HasMetaDataKey(TAG_SLICE_THICKNESS)
        else None
    )
    return DicomSlice(
        path=path,
        pixels=pixels,
        position=_floats(reader, TAG_POSITION, path, 3),
        row_direction=row / np.linalg.norm(row),
        col_direction=col / np.linalg.norm(col),
        pixel_spacing=(float(spacing[0]), float(spacing[1])),
        slice_thickness=thickness,
    )


def read_mask(path: Path) -> np.ndarray:
    """Read a binary mask (PNG, {0, 1} or {0, 255}) as a boolean (rows, cols) array.

    Read with Pillow: a study's ES is found from all its masks (thousands of small PNGs on the
    real LVSC), and Pillow reads them several times faster than an ITK image reader.
    """
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise DatasetError(f"{path}: not a PNG file ({image.format})")
            if image.mode == "P":  # palette: compare the colours it stands for
                image = image.convert("RGBA")
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable or corrupt PNG ({exc})") from exc
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8)
    if pixels.ndim == 3:
        # Grey masks saved as RGB(A) or grey + alpha: accept only when the channels agree.
        colour = pixels[..., :3]
        if np.any(colour != colour[..., :1]):
            raise DatasetError(f"{path}: colour mask; expected a grey-level binary mask")
        pixels = colour[..., 0]
    if not _is_binary(pixels):
        values = sorted(np.unique(pixels).tolist())
        raise DatasetError(
            f"{path}: mask not binary: values {values}, expected {{0,1}} or {{0,255}}"
        )
    return pixels > 0


def _is_binary(pixels: np.ndarray) -> bool:
    """Whether the values are a subset of one of :data:`BINARY_MASK_VALUES` (two values each).

    Every reader of a study reads all its masks (the ES search), thousands per job on the real
    LVSC: min/max and one comparison pass cost a fraction of ``np.unique``.
    """
    if pixels.size == 0:
        return True
    low, high = int(pixels.min()), int(pixels.max())
    if not any({low, high} <= allowed for allowed in BINARY_MASK_VALUES):
        return False
    return low == high or not np.any((pixels != low) & (pixels != high))


# --------------------------------------------------------------------------- geometry
def _slice_step(positions: np.ndarray, slices: list[DicomSlice]) -> float:
    """Distance between neighbouring slices, checked to be regular."""
    if len(positions) == 1:
        thickness = slices[0].slice_thickness
        if thickness is None or thickness <= 0:
            raise DatasetError(
                f"{slices[0].path}: single-slice frame without a positive SliceThickness"
            )
        return thickness
    gaps = np.diff(positions)
    step = float(np.median(gaps))
    if gaps.min() <= 1e-3:
        i = int(np.argmin(gaps))
        raise DatasetError(
            f"{slices[i + 1].path}: same position along the slice normal as {slices[i].path.name}"
        )
    if np.max(np.abs(gaps - step)) > SLICE_GAP_TOLERANCE * step:
        raise DatasetError(
            f"{slices[0].path.parent}: irregular slice gaps {np.round(gaps, 3).tolist()} mm "
            f"(more than {SLICE_GAP_TOLERANCE:.0%} off the median {step:.3f} mm)"
        )
    return step


def spatial_order(slices: list[DicomSlice]) -> list[int]:
    """Indices of ``slices`` sorted by position along the (shared) slice normal."""
    normal = slices[0].normal
    positions = [float(np.dot(s.position, normal)) for s in slices]
    return sorted(range(len(slices)), key=lambda i: positions[i])


def stack_slices(slices: list[DicomSlice]) -> sitk.Image:
    """Stack 2-D slices, already in spatial order, into a 3-D image with their physical geometry."""
    first = slices[0]
    for other in slices[1:]:
        if other.pixels.shape != first.pixels.shape:
            raise DatasetError(
                f"{other.path}: {other.pixels.shape} pixels, {first.path.name} has "
                f"{first.pixels.shape}"
            )
        if not (
            np.allclose(other.row_direction, first.row_direction, atol=ORIENTATION_TOLERANCE)
            and np.allclose(other.col_direction, first.col_direction, atol=ORIENTATION_TOLERANCE)
        ):
            raise DatasetError(f"{other.path}: orientation differs from {first.path.name}")
        if not np.allclose(other.pixel_spacing, first.pixel_spacing, rtol=1e-4):
            raise DatasetError(
                f"{other.path}: PixelSpacing {other.pixel_spacing} differs from "
                f"{first.path.name}'s {first.pixel_spacing}"
            )
    normal = first.normal
    positions = np.array([float(np.dot(s.position, normal)) for s in slices])
    step = _slice_step(positions, slices)
    image = sitk.GetImageFromArray(np.stack([s.pixels for s in slices]))
    row_spacing, col_spacing = first.pixel_spacing
    image.SetSpacing((col_spacing, row_spacing, step))
    image.SetOrigin(tuple(float(v) for v in first.position))
    direction = np.column_stack([first.row_direction, first.col_direction, normal])
    image.SetDirection(direction.ravel().tolist())
    return image


def masks_to_label(masks: list[np.ndarray], image: sitk.Image) -> sitk.Image:
    """Myocardium masks (in the image's slice order) as a uint8 label map on the image's grid."""
    label = sitk.GetImageFromArray(np.stack(masks).astype(np.uint8) * np.uint8(LV_MYOCARDIUM))
    label.CopyInformation(image)
    return label


# --------------------------------------------------------------------------- phases
def cavity_voxels(masks: list[np.ndarray]) -> int:
    """LV cavity size of one frame: each slice's filled myocardium ring minus the ring, summed.

    The holes are found within the ring's bounding box grown by one pixel of background, which
    is exactly the fill of the whole slice (a background region reaching the box edge reaches the
    slice border too). They are the background components (4-connected, as
    ``ndimage.binary_fill_holes`` propagates) other than the one of the box's border: one
    labelling pass instead of the fill's iterated dilation, as every reader runs this on every
    mask of a study.
    """
    total = 0
    for mask in masks:
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        box = np.pad(mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 1)
        background, _ = ndimage.label(~box)
        outside = background[0, 0]  # the padding: one background component around the box
        total += int(np.count_nonzero(background)) - int(np.count_nonzero(background == outside))
    return total


def end_systolic_frame(cavity_by_frame: dict[int, int]) -> int:
    """The frame (1-based) with the smallest LV cavity; the earliest one on ties."""
    return min(sorted(cavity_by_frame), key=lambda frame: cavity_by_frame[frame])


# --------------------------------------------------------------------------- cases
def load_frame(files: StudyFiles, frame: int) -> Frame:
    """Read frame ``frame`` (1-based): spatially ordered 3-D image and myocardium label."""
    keys = files.slice_keys(frame)
    if not keys:
        raise DatasetError(f"{files.folder}: no DICOMs for phase {frame - 1} (frame {frame})")
    slices = [read_dicom_slice(files.dicoms[key]) for key in keys]
    order = spatial_order(slices)
    slices = [slices[i] for i in order]
    keys = [keys[i] for i in order]
    image = stack_slices(slices)
    if not files.masks:
        return Frame(frame=frame, image=image, label=None)
    masks: list[np.ndarray] = []
    for key, dicom in zip(keys, slices, strict=True):
        mask_path = files.masks.get(key)
        if mask_path is None:
            raise DatasetError(f"{dicom.path}: missing mask {dicom.path.stem}.png")
        mask = read_mask(mask_path)
        if mask.shape != dicom.pixels.shape:
            raise DatasetError(
                f"{mask_path}: mask shape {mask.shape} differs from the image's "
                f"{dicom.pixels.shape}"
            )
        masks.append(mask)
    return Frame(frame=frame, image=image, label=masks_to_label(masks, image))


def read_case(study_dir: Path, mask_dir: Path | None = None) -> Case:
    """One study: file index and ED/ES now (reads the masks), image data on demand.

    ``mask_dir``: a folder of this study's masks outside the study folder (consensus images).
    """
    files = index_study_files(study_dir, mask_dir)
    problems = study_problems(files, require_masks=False)
    if problems:
        raise DatasetError("; ".join(problems))
    n_frames = len(files.phases)
    labelled = bool(files.masks)
    es_frame = UNKNOWN_FRAME
    if labelled:
        cavities = {
            frame: cavity_voxels([read_mask(files.masks[key]) for key in files.slice_keys(frame)])
            for frame in range(1, n_frames + 1)
        }
        es_frame = end_systolic_frame(cavities)
    n_slices = len(files.slice_keys(1))
    return Case(
        case_id=files.study_id,
        dataset_format=FORMAT,
        group=None,
        ed_frame=1,
        es_frame=es_frame,
        n_frames=n_frames,
        labelled_frames=tuple(range(1, n_frames + 1)) if labelled else (),
        path=study_dir,
        loader=partial(load_frame, files),
        info={"n_slices": str(n_slices)},
    )


def read_cases(root: Path, split: str = "training", masks_root: Path | None = None) -> list[Case]:
    """List the studies of one LVSC split, sorted by study id; frames load lazily.

    ``masks_root``: a folder holding one ``DETnnnnnnn/`` folder of masks per study, named like the
    training masks (``DETnnnnnnn_SA{slice}_ph{phase}.png``): the challenge's consensus (CS*)
    myocardium of the validation split, which is distributed apart from the images.
    """
    root = Path(root)
    folder = study_root(root, split)
    if masks_root is not None and not Path(masks_root).is_dir():
        raise DatasetError(
            f"{masks_root}: folder of LVSC reference masks (consensus images) not found"
        )
    study_dirs = list_study_dirs(folder)
    if not study_dirs:
        raise DatasetError(f"{folder}: no DETnnnnnnn study folders. " + missing_root_message(root))
    cases = []
    for number, study_dir in enumerate(study_dirs, start=1):
        mask_dir = None if masks_root is None else Path(masks_root) / study_dir.name
        cases.append(read_case(study_dir, mask_dir))
        log.debug("listed LVSC study %s (%d/%d)", study_dir.name, number, len(study_dirs))
    return cases
