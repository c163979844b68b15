"""A frame's 2-D slices stacked into one 3-D SimpleITK image with their physical geometry, and
its myocardium masks as a label map on that grid."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from dmr.datasets.lvsc.images import DicomSlice
from dmr.errors import DatasetError
from dmr.labels import LV_MYOCARDIUM

#: Largest allowed deviation of one slice gap from the median gap (fraction of the median).
SLICE_GAP_TOLERANCE = 0.10
#: Largest allowed difference between two slices' orientation vectors (unit vectors).
ORIENTATION_TOLERANCE = 1e-3


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
