"""One LVSC file read: a 2-D DICOM slice with its geometry tags (SimpleITK/GDCM), or a binary
myocardium mask PNG (Pillow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image

from dmr.errors import DatasetError

#: DICOM tags read (group|element, as SimpleITK names them).
TAG_POSITION = "0020|0032"  # ImagePositionPatient
TAG_ORIENTATION = "0020|0037"  # ImageOrientationPatient
TAG_PIXEL_SPACING = "0028|0030"  # PixelSpacing (row spacing \ column spacing)
TAG_SLICE_THICKNESS = "0018|0050"

#: Accepted value sets of a binary mask.
BINARY_MASK_VALUES: tuple[frozenset[int], ...] = (frozenset({0, 1}), frozenset({0, 255}))


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
