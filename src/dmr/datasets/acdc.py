"""Reader of the ACDC challenge layout (Bernard et al., 2018) into :class:`dmr.datasets.Case`.

Layout (``split`` = ``training`` or ``testing``)::

    <root>/<split>/patientNNN/Info.cfg                   ED: 1, ES: 12, Group: DCM, NbFrame: 30, ...
    <root>/<split>/patientNNN/patientNNN_4d.nii.gz       the cine (x, y, z, t)
    <root>/<split>/patientNNN/patientNNN_frameXX.nii.gz  one 3-D frame (XX 1-based)
    <root>/<split>/patientNNN/patientNNN_frameXX_gt.nii.gz   its reference labels (training only)

ACDC's label values already follow the project convention (0 bg, 1 RV, 2 myo, 3 LV), so converting
a reference only means checking its values and geometry and casting to uint8. Files not matching
these names (``MANDATORY_CITATION.md``, ``.DS_Store``, ...) are ignored.

The reader works in named steps: :func:`list_case_dirs` → :func:`parse_info` /
:func:`parse_case_metadata` → :func:`find_case_files` → :func:`load_frame` (which uses
:func:`read_image`, :func:`extract_frame` and :func:`read_label`). :mod:`dmr.datasets.checks`
reuses the same steps, so the checker and the pipeline agree on what a valid case is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from dmr.datasets.case import Case, Frame
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch
from dmr.labels import LABEL_VALUES

FORMAT = "acdc"
SPLITS: tuple[str, ...] = ("training", "testing")
SOURCE_URL = "https://humanheart-project.creatis.insa-lyon.fr/database/"

_CASE_DIR = re.compile(r"^patient(\d+)$")
_FRAME_FILE = re.compile(r"^(patient\d+)_frame(\d+)(_gt)?\.nii(\.gz)?$", re.IGNORECASE)
_CINE_FILE = re.compile(r"^(patient\d+)_4d\.nii(\.gz)?$", re.IGNORECASE)


def missing_root_message(root: Path) -> str:
    """Where to obtain ACDC and where to put it; used when the dataset folder is missing."""
    return (
        f"{root}: ACDC dataset folder not found. Download ACDC from the Human Heart Project "
        f"database of CREATIS ({SOURCE_URL}) and unpack it so that "
        f"{root / 'training' / 'patient001'}/ exists (Info.cfg and patient001_*.nii.gz inside)."
    )


@dataclass(frozen=True)
class CaseFiles:
    """The image files of one case folder, by role; frame numbers are 1-based."""

    cine: Path | None
    images: dict[int, Path] = field(default_factory=dict)
    labels: dict[int, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseMetadata:
    """What ``Info.cfg`` says about a case."""

    ed_frame: int
    es_frame: int
    n_frames: int
    group: str | None
    info: dict[str, str]


# --------------------------------------------------------------------------- listing
def split_dir(root: Path, split: str) -> Path:
    """The folder holding the case folders of ``split``; DatasetError when absent."""
    if split not in SPLITS:
        raise DatasetError(f"{root}: unknown ACDC split {split!r}; expected one of {SPLITS}")
    if not root.is_dir():
        raise DatasetError(missing_root_message(root))
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: ACDC split folder missing. " + missing_root_message(root))
    return folder


def list_case_dirs(folder: Path) -> list[Path]:
    """Case folders (``patientNNN``) of one split folder, sorted by case id."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and _CASE_DIR.match(p.name)),
        key=lambda p: p.name,
    )


def find_case_files(case_dir: Path) -> CaseFiles:
    """Sort a case folder's NIfTI files into cine, frame images and frame references.

    Only files named after the folder's own case id count. Two files claiming the same role (e.g.
    ``_frame1.nii.gz`` beside ``_frame01.nii.gz``) are an error, since either could be meant.
    """
    case_id = case_dir.name
    cine: Path | None = None
    images: dict[int, Path] = {}
    labels: dict[int, Path] = {}
    for path in sorted(case_dir.iterdir()):
        if not path.is_file():
            continue
        if (m := _CINE_FILE.match(path.name)) and m.group(1) == case_id:
            if cine is not None:
                raise DatasetError(f"{case_dir}: two cine files, {cine.name} and {path.name}")
            cine = path
            continue
        m = _FRAME_FILE.match(path.name)
        if m is None or m.group(1) != case_id:
            continue
        frame = int(m.group(2))
        role = labels if m.group(3) else images
        if frame in role:
            raise DatasetError(
                f"{case_dir}: two files for frame {frame}: {role[frame].name} and {path.name}"
            )
        role[frame] = path
    return CaseFiles(cine=cine, images=images, labels=labels)


# --------------------------------------------------------------------------- metadata
def parse_info(path: Path) -> dict[str, str]:
    """Read ``Info.cfg`` (``Key: value`` lines) into a dict; DatasetError when missing/malformed."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: missing (every ACDC case folder has an Info.cfg)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from exc
    info: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise DatasetError(f"{path}: line {number} is not 'Key: value': {line!r}")
        info[key.strip()] = value.strip()
    return info


def _positive_int(info: dict[str, str], key: str, path: Path, problems: list[str]) -> int | None:
    if key not in info:
        problems.append(f"{path}: {key} missing")
        return None
    try:
        value = float(info[key])
    except ValueError:
        problems.append(f"{path}: {key} is not a number: {info[key]!r}")
        return None
    if not value.is_integer() or value < 1:
        problems.append(f"{path}: {key} must be a positive integer, got {info[key]!r}")
        return None
    return int(value)


def parse_case_metadata(info: dict[str, str], cfg_path: Path) -> CaseMetadata:
    """ED/ES (1-based), number of frames and group from ``Info.cfg``; every problem in one error."""
    problems: list[str] = []
    ed = _positive_int(info, "ED", cfg_path, problems)
    es = _positive_int(info, "ES", cfg_path, problems)
    n_frames = _positive_int(info, "NbFrame", cfg_path, problems)
    if n_frames is not None:
        for key, value in (("ED", ed), ("ES", es)):
            if value is not None and value > n_frames:
                problems.append(f"{cfg_path}: {key} = {value} outside 1..NbFrame ({n_frames})")
    if problems:
        raise DatasetError("; ".join(problems))
    assert ed is not None and es is not None and n_frames is not None
    group = info.get("Group") or None
    return CaseMetadata(ed_frame=ed, es_frame=es, n_frames=n_frames, group=group, info=info)


# --------------------------------------------------------------------------- loading
def read_image(path: Path) -> sitk.Image:
    """Read a NIfTI image; truncated or corrupt files become a DatasetError naming the file."""
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise DatasetError(f"{path}: unreadable or corrupt image ({reason})") from exc


def extract_frame(cine: sitk.Image, frame: int, cine_path: Path) -> sitk.Image:
    """Frame ``frame`` (1-based) of a 4-D cine as a 3-D image with the spatial axes' geometry."""
    if cine.GetDimension() != 4:
        raise DatasetError(f"{cine_path}: expected a 4-D (x, y, z, t) image, got {cine.GetSize()}")
    size = list(cine.GetSize())
    if not 1 <= frame <= size[3]:
        raise DatasetError(f"{cine_path}: frame {frame} outside 1..{size[3]} (time points)")
    volume = sitk.Extract(cine, [*size[:3], 0], [0, 0, 0, frame - 1])
    # Extract may guess the collapsed direction; set the spatial sub-geometry explicitly.
    direction4 = np.asarray(cine.GetDirection()).reshape(4, 4)
    volume.SetSpacing(cine.GetSpacing()[:3])
    volume.SetOrigin(cine.GetOrigin()[:3])
    volume.SetDirection(direction4[:3, :3].ravel().tolist())
    return volume


def read_label(path: Path, image: sitk.Image | None = None) -> sitk.Image:
    """Read a reference as uint8 in the project convention, optionally on ``image``'s exact grid.

    Values must be integers in {0, 1, 2, 3}; the grid must equal the image's within
    :data:`GEOMETRY_TOLERANCE` and is then copied from it, so later steps can compare exactly.
    """
    label = read_image(path)
    values = np.unique(sitk.GetArrayViewFromImage(label))
    unexpected = [v for v in values.tolist() if v not in LABEL_VALUES]
    if unexpected:
        raise DatasetError(
            f"{path}: label values {unexpected} outside the allowed {list(LABEL_VALUES)}"
        )
    label = sitk.Cast(label, sitk.sitkUInt8)
    if image is not None:
        mismatch = geometry_mismatch(image, label)
        if mismatch is not None:
            raise DatasetError(f"{path}: {mismatch}")
        label.CopyInformation(image)
    return label


def load_frame(files: CaseFiles, case_id: str, frame: int) -> Frame:
    """Load one frame: its own 3-D file when present, else extracted from the 4-D cine."""
    image_path = files.images.get(frame)
    if image_path is not None:
        image = read_image(image_path)
    elif files.cine is not None:
        image = extract_frame(read_image(files.cine), frame, files.cine)
    else:
        raise DatasetError(f"{case_id}: no image for frame {frame} (no frame file and no 4-D file)")
    if image.GetDimension() != 3:
        raise DatasetError(f"{image_path}: expected a 3-D image, got size {image.GetSize()}")
    label_path = files.labels.get(frame)
    label = read_label(label_path, image) if label_path is not None else None
    return Frame(frame=frame, image=image, label=label)


# --------------------------------------------------------------------------- cases
def read_case(case_dir: Path) -> Case:
    """One case from its folder: metadata and file listing now, image data on demand."""
    cfg_path = case_dir / "Info.cfg"
    metadata = parse_case_metadata(parse_info(cfg_path), cfg_path)
    files = find_case_files(case_dir)
    return Case(
        case_id=case_dir.name,
        dataset_format=FORMAT,
        group=metadata.group,
        ed_frame=metadata.ed_frame,
        es_frame=metadata.es_frame,
        n_frames=metadata.n_frames,
        labelled_frames=tuple(sorted(files.labels)),
        path=case_dir,
        loader=partial(load_frame, files, case_dir.name),
        info=metadata.info,
        cine_path=files.cine,
    )


def read_cases(root: Path, split: str = "training") -> list[Case]:
    """List the cases of one ACDC split, sorted by case id; frames load lazily."""
    root = Path(root)
    folder = split_dir(root, split)
    case_dirs = list_case_dirs(folder)
    if not case_dirs:
        raise DatasetError(f"{folder}: no patientNNN case folders. " + missing_root_message(root))
    return [read_case(case_dir) for case_dir in case_dirs]
