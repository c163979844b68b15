"""Per-volume steps of preprocessing: the slice geometry, resampling, intensities, crop/pad.

Kept apart from the dataset driver (:mod:`dmr.preprocess.dataset`) because ``dmr predict`` runs
exactly these steps on one image, and maps its predictions back with :func:`restore_labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from dmr.preprocess.orientation import canonical_grid, grid_of


@dataclass(frozen=True)
class PreprocessParams:
    """In-plane spacing (mm), square slice size (pixels) and upper clipping percentile (0-100]."""

    spacing: float
    size: int
    clip_percentile: float

    def __post_init__(self) -> None:
        if not self.spacing > 0:
            raise ValueError(f"spacing must be > 0 mm, got {self.spacing}")
        if self.size < 1:
            raise ValueError(f"size must be >= 1 pixel, got {self.size}")
        if not 0 < self.clip_percentile <= 100:
            raise ValueError(f"clip_percentile must lie in (0, 100], got {self.clip_percentile}")


@dataclass(frozen=True)
class SliceGeometry:
    """Everything needed to map network-grid slices back to the original image grid.

    Sizes, spacings and origins are in SimpleITK (x, y, z) order; ``direction`` is the row-major
    3x3 direction matrix of the resampled and network grids (the canonical orientation,
    :mod:`dmr.preprocess.orientation`), ``original_direction`` that of the original image.
    ``crop_offset`` (x, y): network pixel ``i`` is resampled pixel ``i + offset`` (negative =
    zero-padding before the image).
    """

    original_size: tuple[int, int, int]
    original_spacing: tuple[float, float, float]
    original_origin: tuple[float, float, float]
    original_direction: tuple[float, ...]
    direction: tuple[float, ...]
    resampled_size: tuple[int, int, int]
    resampled_spacing: tuple[float, float, float]
    resampled_origin: tuple[float, float, float]
    crop_offset: tuple[int, int]
    size: int

    @property
    def n_slices(self) -> int:
        return self.original_size[2]

    @property
    def network_origin(self) -> tuple[float, float, float]:
        """Physical position of the centre of network pixel (0, 0, 0)."""
        shift = np.array([*self.crop_offset, 0], dtype=float) * np.array(self.resampled_spacing)
        matrix = np.array(self.direction, dtype=float).reshape(3, 3)
        return tuple(float(v) for v in np.array(self.resampled_origin) + matrix @ shift)

    def network_reference(self) -> sitk.Image:
        """An empty image on the network grid (size x size x n_slices)."""
        return _reference_image(
            (self.size, self.size, self.n_slices),
            self.resampled_spacing,
            self.network_origin,
            self.direction,
        )

    def original_reference(self) -> sitk.Image:
        """An empty image on the original grid."""
        return _reference_image(
            self.original_size,
            self.original_spacing,
            self.original_origin,
            self.original_direction,
        )


def _reference_image(
    size: tuple[int, ...],
    spacing: tuple[float, ...],
    origin: tuple[float, ...],
    direction: tuple[float, ...],
) -> sitk.Image:
    image = sitk.Image([int(s) for s in size], sitk.sitkUInt8)
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(o) for o in origin])
    image.SetDirection([float(d) for d in direction])
    return image


def _check_volume(image: sitk.Image, what: str) -> None:
    if image.GetDimension() != 3:
        raise ValueError(f"{what}: expected a 3-D short-axis stack, got {image.GetDimension()}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"{what}: expected a scalar image, got "
            f"{image.GetNumberOfComponentsPerPixel()} components per pixel"
        )


def _resample(
    image: sitk.Image, reference: sitk.Image, interpolator: int, pixel_type: int
) -> sitk.Image:
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, 0.0, pixel_type)


def _geometry_for(image: sitk.Image, params: PreprocessParams) -> SliceGeometry:
    original = grid_of(image)
    canonical = canonical_grid(original)
    size, spacing, direction = canonical.size, canonical.spacing, canonical.direction
    new_spacing = (float(params.spacing), float(params.spacing), float(spacing[2]))
    new_size = (
        max(1, round(size[0] * spacing[0] / params.spacing)),
        max(1, round(size[1] * spacing[1] / params.spacing)),
        size[2],
    )
    # Keep the field of view: the first pixel's outer edge stays where it was.
    half_change = 0.5 * (np.array(new_spacing) - np.array(spacing))
    half_change[2] = 0.0
    matrix = np.array(direction, dtype=float).reshape(3, 3)
    new_origin = np.array(canonical.origin) + matrix @ half_change
    return SliceGeometry(
        original_size=original.size,
        original_spacing=original.spacing,
        original_origin=original.origin,
        original_direction=original.direction,
        direction=tuple(float(d) for d in direction),
        resampled_size=tuple(int(s) for s in new_size),
        resampled_spacing=new_spacing,
        resampled_origin=tuple(float(o) for o in new_origin),
        # Floor division centres the crop and puts an odd pixel of padding after the image.
        crop_offset=((new_size[0] - params.size) // 2, (new_size[1] - params.size) // 2),
        size=int(params.size),
    )


def crop_or_pad(volume: np.ndarray, offset: tuple[int, int], size: int) -> np.ndarray:
    """(Z, Y, X) → (Z, size, size): network pixel (y, x) takes volume pixel (y + oy, x + ox)."""
    offset_x, offset_y = offset
    out = np.zeros((volume.shape[0], size, size), dtype=volume.dtype)
    src_y = slice(max(offset_y, 0), min(offset_y + size, volume.shape[1]))
    src_x = slice(max(offset_x, 0), min(offset_x + size, volume.shape[2]))
    dst_y = slice(src_y.start - offset_y, src_y.stop - offset_y)
    dst_x = slice(src_x.start - offset_x, src_x.stop - offset_x)
    out[:, dst_y, dst_x] = volume[:, src_y, src_x]
    return out


def normalise_intensities(volume: np.ndarray, clip_percentile: float) -> np.ndarray:
    """Clip the upper tail at the percentile, then z-score (float32) with the volume's stats."""
    volume = volume.astype(np.float64, copy=False)
    clipped = np.minimum(volume, np.percentile(volume, clip_percentile))
    std = clipped.std()
    if not std > 0:
        raise ValueError(
            f"image intensities are constant after clipping at the {clip_percentile} percentile "
            f"(value {float(clipped.flat[0])}): cannot normalise"
        )
    return ((clipped - clipped.mean()) / std).astype(np.float32)


def preprocess_volume(
    image: sitk.Image, params: PreprocessParams
) -> tuple[np.ndarray, SliceGeometry]:
    """3-D short-axis image → float32 (Z, size, size) network input and its geometry."""
    _check_volume(image, "image")
    geometry = _geometry_for(image, params)
    resampled_grid = _reference_image(
        geometry.resampled_size,
        geometry.resampled_spacing,
        geometry.resampled_origin,
        geometry.direction,
    )
    resampled = _resample(
        sitk.Cast(image, sitk.sitkFloat32), resampled_grid, sitk.sitkLinear, sitk.sitkFloat32
    )
    normalised = normalise_intensities(sitk.GetArrayFromImage(resampled), params.clip_percentile)
    return crop_or_pad(normalised, geometry.crop_offset, params.size), geometry


def preprocess_label(label: sitk.Image, geometry: SliceGeometry) -> np.ndarray:
    """Label volume (global values) → uint8 (Z, size, size) on the same grid as its image."""
    _check_volume(label, "label")
    if tuple(label.GetSize()) != geometry.original_size:
        raise ValueError(
            f"label size {label.GetSize()} differs from the image size {geometry.original_size}"
        )
    resampled = _resample(
        sitk.Cast(label, sitk.sitkUInt8),
        geometry.network_reference(),
        sitk.sitkNearestNeighbor,
        sitk.sitkUInt8,
    )
    return sitk.GetArrayFromImage(resampled)


def restore_labels(labels: np.ndarray, geometry: SliceGeometry) -> sitk.Image:
    """(Z, size, size) uint8 network-grid labels → uint8 image on the original grid.

    Undoes crop/pad and resampling in one nearest-neighbour ``sitk.Resample`` from the network
    grid (placed in physical space) onto the original grid; pixels that were cropped away come
    back as background. The result copies the original spacing, origin and direction.
    """
    expected = (geometry.n_slices, geometry.size, geometry.size)
    labels = np.asarray(labels)
    if labels.shape != expected:
        raise ValueError(f"expected labels of shape {expected}, got {labels.shape}")
    network = sitk.GetImageFromArray(labels.astype(np.uint8, copy=False))
    network.CopyInformation(geometry.network_reference())
    return _resample(
        network, geometry.original_reference(), sitk.sitkNearestNeighbor, sitk.sitkUInt8
    )
