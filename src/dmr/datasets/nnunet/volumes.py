"""One nnU-Net case file read as a frame: a single-channel 3-D volume oriented so the networks
slice along z, and its reference remapped to the project's label values on the image's grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from dmr.datasets.acdc import read_image
from dmr.datasets.case import Frame
from dmr.datasets.nnunet.listing import CaseFiles
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch
from dmr.labels import BACKGROUND


def as_volume(image: sitk.Image, path: Path) -> sitk.Image:
    """A 3-D scalar volume; a 2-D image becomes one slice. Other images fail (one channel)."""
    components, dimension = image.GetNumberOfComponentsPerPixel(), image.GetDimension()
    if components != 1:
        raise DatasetError(f"{path}: {components} components per pixel; one cine channel needed")
    if dimension == 3:
        return image
    if dimension != 2:
        raise DatasetError(f"{path}: {dimension}-D image {image.GetSize()}; expected 2-D or 3-D")
    volume = sitk.JoinSeries(image)
    direction = np.eye(3)
    direction[:2, :2] = np.reshape(image.GetDirection(), (2, 2))
    volume.SetSpacing((*image.GetSpacing(), 1.0))
    volume.SetOrigin((*image.GetOrigin(), 0.0))
    volume.SetDirection(direction.ravel().tolist())
    return volume


def slice_axis(image: sitk.Image) -> int:
    """The axis to slice along: a single-slice axis (z first), else the largest spacing (or z)."""
    size, spacing = image.GetSize(), image.GetSpacing()
    singles = [axis for axis in (2, 0, 1) if size[axis] == 1]
    if singles:
        return singles[0]
    largest = max(spacing)
    return 2 if spacing[2] >= largest * (1.0 - 1e-6) else int(np.argmax(spacing))


def orient(image: sitk.Image, axis: int) -> sitk.Image:
    """``image`` with ``axis`` moved to z (same physical geometry), the others kept in order."""
    if axis == 2:
        return image
    return sitk.PermuteAxes(image, [*(a for a in range(3) if a != axis), axis])


def remap_label(label: sitk.Image, lut: Mapping[int, int], path: Path) -> sitk.Image:
    """dataset.json label values → project values (uint8); undeclared values fail."""
    array = sitk.GetArrayViewFromImage(label)
    undeclared = [v for v in np.unique(array).tolist() if v not in lut]
    if undeclared:
        raise DatasetError(f"{path}: label values {undeclared} not declared in dataset.json")
    out = np.zeros(array.shape, dtype=np.uint8)
    for value, target in lut.items():
        if target != BACKGROUND:
            out[array == value] = target
    result = sitk.GetImageFromArray(out)
    result.CopyInformation(label)
    return result


def load_frame(frames: Sequence[CaseFiles], lut: Mapping[int, int], frame: int) -> Frame:
    """Read one frame (1-based): its image, its remapped reference on the image's grid."""
    files = frames[frame - 1]
    image = as_volume(read_image(files.image), files.image)
    label = None
    if files.label is not None:
        raw = as_volume(read_image(files.label), files.label)
        mismatch = geometry_mismatch(image, raw)
        if mismatch is not None:
            raise DatasetError(f"{files.label}: {mismatch}")
        label = remap_label(raw, lut, files.label)
        label.CopyInformation(image)
    axis = slice_axis(image)
    return Frame(
        frame=frame,
        image=orient(image, axis),
        label=None if label is None else orient(label, axis),
    )
