"""Resample, normalise and crop/pad short-axis volumes onto the network's slice grid (paper II.E).

Per volume, in this order:

0. take the volume's grid in the canonical in-plane orientation (:mod:`dmr.orientation`: the same
   voxels with the in-plane axes permuted/flipped towards the patient's +x/+y), so that every
   format and storage order gives the network the same view of the same anatomy;
1. resample in-plane to ``spacing`` mm with linear interpolation (``sitk.Resample``); the slice
   thickness, the number of slices and the (canonical) direction are kept, and the in-plane field
   of view (pixel edges) is kept too: the origin moves by half the change of pixel size, so that
   the new grid is centred on the old one instead of drifting by up to half a pixel;
2. clip intensities at the ``clip_percentile`` percentile (upper tail: bright fat and flow
   artefacts) and z-score them, both with statistics of the whole resampled volume, so that the
   normalisation does not depend on the crop size;
3. centre crop / zero-pad in x and y to ``size`` pixels. Padding after z-scoring pads with the
   volume's mean intensity, as a network sees it.

Labels are resampled with nearest neighbour directly onto the final (cropped/padded) grid, which
samples exactly the same physical points. :func:`restore_labels` maps network-grid predictions
back onto the original grid.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from dmr.datasets.case import Case
from dmr.distance import class_distance_maps
from dmr.errors import DatasetError
from dmr.io import atomic_dir, write_csv, write_json
from dmr.labels import FORMAT_STRUCTURES, label_values_for
from dmr.npy import concatenate_npy
from dmr.orientation import canonical_grid, grid_of
from dmr.regions import slice_regions

log = logging.getLogger(__name__)

SLICE_COLUMNS: tuple[str, ...] = (
    "index",
    "case",
    "group",
    "frame",
    "phase",
    "slice",
    "n_slices",
    "has_foreground",
    "region",
)
CASE_COLUMNS: tuple[str, ...] = ("case", "group", "n_frames", "ed_frame", "es_frame")


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
    :mod:`dmr.orientation`), ``original_direction`` that of the original image. ``crop_offset``
    (x, y): network pixel ``i`` is resampled pixel ``i + offset`` (negative = zero-padding before
    the image).
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


# --------------------------------------------------------------------------- dataset driver
def _class_index_lookup(label_values: list[int]) -> np.ndarray:
    """256-entry table: global label value → class index, 255 for values the format lacks."""
    lookup = np.full(256, 255, dtype=np.uint8)
    for class_index, value in enumerate(label_values):
        lookup[value] = class_index
    return lookup


def _frames_to_use(case: Case, frames: str) -> list[int]:
    if frames == "ed_es":
        return sorted({case.ed_frame, case.es_frame})
    if frames == "all":
        return sorted(set(case.labelled_frames))
    raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")


def _phase_of(case: Case, frame: int) -> str:
    if frame == case.ed_frame:
        return "ED"
    if frame == case.es_frame:
        return "ES"
    return ""


@dataclass
class _CaseArrays:
    images: np.ndarray
    labels: np.ndarray
    distmaps: np.ndarray
    rows: list[dict]


def _preprocess_case(
    case: Case,
    frames: str,
    params: PreprocessParams,
    lookup: np.ndarray,
    label_values: list[int],
) -> _CaseArrays:
    images, labels, distmaps, rows = [], [], [], []
    num_classes = len(label_values)
    frame_numbers = _frames_to_use(case, frames)
    if not frame_numbers:
        raise DatasetError(f"{case.path}: case {case.case_id} has no labelled frame")
    for frame_number in frame_numbers:
        where = f"{case.path}: case {case.case_id}, frame {frame_number}"
        frame = case.load_frame(frame_number)
        if frame.label is None:
            raise DatasetError(f"{where}: no reference label for a frame used for training")
        try:
            image, geometry = preprocess_volume(frame.image, params)
            label = preprocess_label(frame.label, geometry)
            regions = slice_regions(sitk.GetArrayFromImage(frame.label))
        except ValueError as error:
            raise DatasetError(f"{where}: {error}") from error
        classes = lookup[label]
        if (classes == 255).any():
            raise DatasetError(
                f"{where}: label values {sorted(np.unique(label).tolist())} outside "
                f"{label_values} expected for format {case.dataset_format!r}"
            )
        for z in range(image.shape[0]):
            rows.append(
                {
                    "case": case.case_id,
                    "group": case.group or "",
                    "frame": frame_number,
                    "phase": _phase_of(case, frame_number),
                    "slice": z,
                    "n_slices": image.shape[0],
                    "has_foreground": bool(classes[z].any()),
                    "region": regions[z],
                }
            )
            distmaps.append(class_distance_maps(classes[z], num_classes, np.inf))
        images.append(image)
        labels.append(classes)
    return _CaseArrays(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        distmaps=np.stack(distmaps).astype(np.float16),
        rows=rows,
    )


def _concatenate_chunks(chunks: list[Path], target: Path, dtype: np.dtype) -> int:
    """Concatenate .npy chunks along axis 0 into ``target`` (streamed, see ``dmr.npy``); delete
    the chunks."""
    n = concatenate_npy(chunks, target, dtype)
    for chunk in chunks:
        chunk.unlink()
    return n


def preprocess_dataset(
    fmt: str,
    raw_dir: str | Path,
    out_dir: str | Path,
    *,
    spacing: float,
    size: int,
    clip_percentile: float,
    frames: Literal["ed_es", "all"] = "ed_es",
) -> None:
    """Preprocess every case of a raw dataset into the slice folder of docs/formats.md.

    Memory stays bounded by one case: each case's arrays go to temporary .npy chunks inside the
    (atomic) output folder and are streamed into the final arrays at the end (``dmr.npy``: no
    memory maps, whose touched pages would all count as resident).
    """
    from dmr.datasets import read_dataset

    params = PreprocessParams(spacing=spacing, size=size, clip_percentile=clip_percentile)
    if frames not in ("ed_es", "all"):
        raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")
    if fmt not in FORMAT_STRUCTURES:
        raise ValueError(
            f"unknown dataset format {fmt!r}; expected one of {list(FORMAT_STRUCTURES)}"
        )
    structures = list(FORMAT_STRUCTURES[fmt])
    label_values = label_values_for(structures)
    lookup = _class_index_lookup(label_values)

    cases = read_dataset(fmt, raw_dir)
    if not cases:
        raise DatasetError(f"{raw_dir}: no cases found for format {fmt!r}")
    ids = [case.case_id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DatasetError(f"{raw_dir}: duplicate case ids {duplicates}")

    with atomic_dir(out_dir) as folder:
        chunk_dir = folder / "chunks"
        chunk_dir.mkdir()
        chunks: dict[str, list[Path]] = {"images": [], "labels": [], "distmaps": []}
        slice_rows: list[dict] = []
        for number, case in enumerate(tqdm(cases, desc=f"preprocess {fmt}", file=sys.stderr)):
            arrays = _preprocess_case(case, frames, params, lookup, label_values)
            for name in chunks:
                path = chunk_dir / f"{name}_{number:06d}.npy"
                np.save(path, getattr(arrays, name))
                chunks[name].append(path)
            slice_rows.extend(arrays.rows)
        n_slices = len(slice_rows)
        dtypes = {"images": np.float32, "labels": np.uint8, "distmaps": np.float16}
        for name, dtype in dtypes.items():
            n = _concatenate_chunks(chunks[name], folder / f"{name}.npy", np.dtype(dtype))
            if n != n_slices:
                raise RuntimeError(f"{name}: {n} slices written but {n_slices} table rows")
        shutil.rmtree(chunk_dir)

        slices = pd.DataFrame(slice_rows, columns=list(SLICE_COLUMNS[1:]))
        slices.insert(0, "index", np.arange(n_slices))
        write_csv(folder / "slices.csv", slices)
        write_csv(
            folder / "cases.csv",
            pd.DataFrame(
                [
                    {
                        "case": case.case_id,
                        "group": case.group or "",
                        "n_frames": case.n_frames,
                        "ed_frame": case.ed_frame,
                        "es_frame": case.es_frame,
                    }
                    for case in cases
                ],
                columns=list(CASE_COLUMNS),
            ),
        )
        write_json(
            folder / "meta.json",
            {
                "format": fmt,
                "spacing": params.spacing,
                "size": params.size,
                "clip_percentile": params.clip_percentile,
                "frames": frames,
                "structures": structures,
                "label_values": label_values,
                "num_classes": len(label_values),
                "n_slices": n_slices,
            },
        )
    log.info("preprocessed %d cases, %d slices into %s", len(cases), n_slices, out_dir)
