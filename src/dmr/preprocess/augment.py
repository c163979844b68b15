"""Random similarity-transform augmentation of preprocessed slices (paper II.E).

The paper draws isotropic scaling in [0.8, 1.2], rotation in [0°, 360°) and a translation of up
to ±1/8 of the image size along x and y, and adds two (LVSC) or four (ACDC) transformed copies of
every training image. Copies are made once for every slice, independent of folds; training uses
the copies of its training cases only. Each slice draws its transforms from its own generator
``default_rng([seed, slice_index])``, so the result does not depend on processing order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from dmr.errors import DatasetError
from dmr.io import atomic_dir, write_csv, write_json
from dmr.preprocess.distance import class_distance_maps
from dmr.preprocess.npy import NpyRowReader, NpyRowWriter


def random_similarity(
    rng: np.random.Generator,
    size: int,
    scale: tuple[float, float] = (0.8, 1.2),
    rotation: tuple[float, float] = (0.0, 360.0),
    translation: float = 0.125,
) -> sitk.Similarity2DTransform:
    """A similarity transform about the centre of a ``size`` x ``size`` unit-spacing slice.

    ``scale`` is the apparent magnification of the content (drawn uniformly), ``rotation`` in
    degrees, and the shift uniform in ``±translation * size`` pixels along x and y. The returned
    transform maps output points to input points (SimpleITK's resampling convention), hence
    the inverse scale.
    """
    if not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale range must satisfy 0 < min <= max, got {scale}")
    if rotation[0] > rotation[1]:
        raise ValueError(f"rotation range must satisfy min <= max, got {rotation}")
    if translation < 0:
        raise ValueError(f"translation must be >= 0, got {translation}")
    magnification = rng.uniform(*scale)
    angle = np.deg2rad(rng.uniform(*rotation))
    shift = rng.uniform(-translation * size, translation * size, size=2)
    transform = sitk.Similarity2DTransform()
    transform.SetCenter(((size - 1) / 2.0, (size - 1) / 2.0))
    transform.SetScale(1.0 / magnification)
    transform.SetAngle(float(angle))
    transform.SetTranslation((float(shift[0]), float(shift[1])))
    return transform


def augment_slice(
    image: np.ndarray, labels: np.ndarray, transform: sitk.Transform
) -> tuple[np.ndarray, np.ndarray]:
    """Resample one (H, W) image (linear) and its labels (nearest) through ``transform``.

    Both use unit spacing and a zero origin, so ``transform`` acts in pixel coordinates (x, y);
    the output keeps the input size and is 0 outside the transformed slice (the volume's mean
    after z-scoring, background for labels).
    """
    image = np.asarray(image)
    labels = np.asarray(labels)
    if image.ndim != 2 or image.shape != labels.shape:
        raise ValueError(
            f"expected 2-D image and labels of equal shape, got {image.shape} and {labels.shape}"
        )
    image_itk = sitk.GetImageFromArray(image.astype(np.float32, copy=False))
    labels_itk = sitk.GetImageFromArray(labels.astype(np.uint8, copy=False))
    moved_image = sitk.Resample(image_itk, image_itk, transform, sitk.sitkLinear, 0.0)
    moved_labels = sitk.Resample(labels_itk, labels_itk, transform, sitk.sitkNearestNeighbor, 0)
    return (
        sitk.GetArrayFromImage(moved_image).astype(np.float32),
        sitk.GetArrayFromImage(moved_labels).astype(np.uint8),
    )


def augment_dataset(
    preprocessed: str | Path,
    output: str | Path,
    *,
    copies: int,
    seed: int,
    scale: tuple[float, float] = (0.8, 1.2),
    rotation: tuple[float, float] = (0.0, 360.0),
    translation: float = 0.125,
) -> None:
    """Write ``copies`` random similarity-transformed versions of every preprocessed slice.

    Output (docs/formats.md): ``images.npy``, ``labels.npy``, ``distmaps.npy`` (untruncated,
    recomputed from the transformed labels), ``slices.csv`` with the source row's columns plus
    ``source_index`` and ``copy`` (1..copies), and ``meta.json`` (the source's plus the
    augmentation parameters). ``copies = 0`` gives a valid folder with N = 0.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    source = Path(preprocessed)
    try:
        meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
        source_slices = pd.read_csv(
            source / "slices.csv",
            dtype={"case": str, "group": str, "phase": str},
            keep_default_na=False,
        )
        images = NpyRowReader(source / "images.npy")
        labels = NpyRowReader(source / "labels.npy")
    except FileNotFoundError as error:
        raise DatasetError(
            f"{source}: not a preprocessed folder ({error.filename} missing); "
            "run `dmr preprocess` first"
        ) from error
    if images.shape[0] != len(source_slices) or labels.shape != images.shape:
        raise DatasetError(
            f"{source}: images {images.shape}, labels {labels.shape} and slices.csv "
            f"({len(source_slices)} rows) disagree"
        )
    num_classes = int(meta["num_classes"])
    n_source, height, width = images.shape
    n_out = n_source * copies

    with (
        atomic_dir(output) as folder,
        NpyRowWriter(folder / "images.npy", (n_out, height, width), np.float32) as out_images,
        NpyRowWriter(folder / "labels.npy", (n_out, height, width), np.uint8) as out_labels,
        NpyRowWriter(
            folder / "distmaps.npy", (n_out, num_classes - 1, height, width), np.float16
        ) as out_distmaps,
    ):
        # Streamed writes and row reads (dmr.preprocess.npy) keep memory at one slice for any N.
        has_foreground: list[bool] = []
        for index in tqdm(range(n_source), desc="augment", file=sys.stderr, disable=n_out == 0):
            rng = np.random.default_rng([seed, index])
            image, label = images.read([index])[0], labels.read([index])[0]
            for _ in range(copies):
                transform = random_similarity(rng, max(height, width), scale, rotation, translation)
                moved_image, moved_labels = augment_slice(image, label, transform)
                out_images.write(moved_image[None])
                out_labels.write(moved_labels[None])
                out_distmaps.write(class_distance_maps(moved_labels, num_classes, np.inf)[None])
                has_foreground.append(bool(moved_labels.any()))

        repeated = source_slices.loc[source_slices.index.repeat(copies)].reset_index(drop=True)
        repeated["source_index"] = np.repeat(source_slices["index"].to_numpy(), copies)
        repeated["copy"] = np.tile(np.arange(1, copies + 1), n_source)
        repeated["index"] = np.arange(n_out)
        # A transform can move the whole heart out of the slice.
        repeated["has_foreground"] = has_foreground
        write_csv(folder / "slices.csv", repeated)
        write_json(
            folder / "meta.json",
            {
                **meta,
                "n_slices": n_out,
                "augmentation": {
                    "source": str(source),
                    "copies": copies,
                    "seed": seed,
                    "scale": list(scale),
                    "rotation": list(rotation),
                    "translation": translation,
                },
            },
        )
