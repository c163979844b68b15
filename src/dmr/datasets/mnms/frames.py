"""One 3-D frame read out of an M&Ms 4-D (x, y, z, t) file without loading the others, and the
M&Ms label values turned into the project's.

M&Ms files are whole cines; reading only the frame asked for keeps memory to one volume."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from dmr.datasets.case import Frame
from dmr.datasets.mnms.layout import SubjectFiles
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch

#: M&Ms label value -> project label value (1 LV -> 3, 2 myocardium -> 2, 3 RV -> 1).
MNMS_TO_PROJECT = np.array([0, 3, 2, 1], dtype=np.uint8)
MNMS_LABEL_VALUES: tuple[int, ...] = (0, 1, 2, 3)


def _reader(path: Path) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise DatasetError(f"{path}: unreadable or corrupt image ({_reason(exc)})") from exc
    if reader.GetDimension() != 4:
        raise DatasetError(f"{path}: expected a 4-D (x, y, z, t) image, got {reader.GetSize()}")
    return reader


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else "unknown error"


def time_points(path: Path) -> tuple[int, ...]:
    """Size (x, y, z, t) of a 4-D file, from its header alone."""
    return tuple(_reader(path).GetSize())


def read_frame(path: Path, frame: int) -> sitk.Image:
    """Frame ``frame`` (1-based) of a 4-D file as a 3-D image with the spatial geometry; only
    that frame is kept in memory."""
    reader = _reader(path)
    size = list(reader.GetSize())
    if not 1 <= frame <= size[3]:
        raise DatasetError(f"{path}: frame {frame} outside 1..{size[3]} (time points)")
    reader.SetExtractIndex([0, 0, 0, frame - 1])
    reader.SetExtractSize([*size[:3], 0])
    try:
        volume = reader.Execute()
    except RuntimeError as exc:
        raise DatasetError(f"{path}: unreadable or corrupt image ({_reason(exc)})") from exc
    # The collapsed time axis may leave a guessed direction; set the spatial sub-geometry.
    direction = np.asarray(reader.GetDirection()).reshape(4, 4)[:3, :3]
    volume.SetSpacing(reader.GetSpacing()[:3])
    volume.SetOrigin(reader.GetOrigin()[:3])
    volume.SetDirection(direction.ravel().tolist())
    return volume


def convert_label(label: sitk.Image, path: Path) -> sitk.Image:
    """M&Ms label values (1 LV, 2 myo, 3 RV) to the project's (3, 2, 1) as uint8."""
    array = sitk.GetArrayViewFromImage(label)
    values = np.unique(array).tolist()
    unexpected = [v for v in values if v not in MNMS_LABEL_VALUES]
    if unexpected:
        raise DatasetError(
            f"{path}: label values {unexpected} outside the M&Ms {list(MNMS_LABEL_VALUES)}"
        )
    converted = sitk.GetImageFromArray(MNMS_TO_PROJECT[np.asarray(array).astype(np.intp)])
    converted.CopyInformation(label)
    return converted


def load_frame(files: SubjectFiles, phases: Mapping[int, str], frame: int) -> Frame:
    """One frame of a subject: the cine's 3-D volume and, for the ED/ES frames (``phases``), its
    labels on the image's exact grid. Other frames have no reference (M&Ms annotates only ED
    and ES), so their label is ``None``; an empty ED/ES label frame is an error."""
    assert files.cine is not None and files.label is not None
    image = read_frame(files.cine, frame)
    if frame not in phases:
        return Frame(frame=frame, image=image, label=None)
    raw = read_frame(files.label, frame)
    mismatch = geometry_mismatch(image, raw)
    if mismatch is not None:
        raise DatasetError(f"{files.label}: {mismatch}")
    label = convert_label(raw, files.label)
    label.CopyInformation(image)
    if not sitk.GetArrayViewFromImage(label).any():
        raise DatasetError(
            f"{files.label.parent}: {empty_frame_problem(files.label, frame, phases[frame])}"
        )
    return Frame(frame=frame, image=image, label=label)


def empty_frame_problem(label_path: Path, frame: int, phase: str) -> str:
    """How an empty ED/ES label frame is reported (1-based ``frame``), by reader and checker."""
    return f"frame {frame} ({phase}) of {label_path.name} is empty (CSV {phase} = {frame - 1})"
