"""Similarity-transform augmentation: alignment of images and labels, distance maps, seeding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from numpy.lib.format import open_memmap

from dmr.preprocess.augment import augment_dataset, augment_slice, random_similarity
from dmr.preprocess.distance import class_distance_maps

SIZE = 32


def _disc(centre: tuple[float, float], radius: float, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_identity_transform_returns_the_input() -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((SIZE, SIZE)).astype(np.float32)
    labels = _disc((12, 18), 6).astype(np.uint8) * 2
    moved_image, moved_labels = augment_slice(image, labels, sitk.Similarity2DTransform())
    np.testing.assert_allclose(moved_image, image, atol=1e-6)
    np.testing.assert_array_equal(moved_labels, labels)
    assert moved_image.dtype == np.float32 and moved_labels.dtype == np.uint8


@pytest.mark.parametrize("seed", range(4))
def test_labels_stay_on_the_bright_pixels(seed: int) -> None:
    disc = _disc((13, 17), 7)
    image = disc.astype(np.float32)
    transform = random_similarity(np.random.default_rng(seed), SIZE)
    moved_image, moved_labels = augment_slice(image, disc.astype(np.uint8), transform)
    bright = moved_image > 0.5
    assert moved_labels.sum() > 50  # the disc stayed (mostly) in the slice
    agreement = (bright == (moved_labels == 1)).mean()
    assert agreement > 0.98


def test_scale_is_magnification_of_the_content() -> None:
    disc = _disc(((SIZE - 1) / 2, (SIZE - 1) / 2), 5)
    transform = random_similarity(
        np.random.default_rng(0), SIZE, scale=(2.0, 2.0), rotation=(0, 0), translation=0
    )
    _, moved = augment_slice(disc.astype(np.float32), disc.astype(np.uint8), transform)
    assert moved.sum() / disc.sum() == pytest.approx(4.0, rel=0.1)


def test_random_similarity_respects_its_ranges() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        t = random_similarity(rng, 64, scale=(0.8, 1.2), rotation=(10, 20), translation=0.125)
        assert 1 / 1.2 <= t.GetScale() <= 1 / 0.8
        assert np.deg2rad(10) <= t.GetAngle() <= np.deg2rad(20)
        assert all(abs(v) <= 8 for v in t.GetTranslation())
        assert t.GetCenter() == (31.5, 31.5)


def _write_preprocessed(folder: Path, n: int = 3) -> None:
    folder.mkdir()
    images = open_memmap(folder / "images.npy", "w+", np.float32, (n, SIZE, SIZE))
    labels = open_memmap(folder / "labels.npy", "w+", np.uint8, (n, SIZE, SIZE))
    distmaps = open_memmap(folder / "distmaps.npy", "w+", np.float16, (n, 2, SIZE, SIZE))
    for i in range(n):
        label = np.zeros((SIZE, SIZE), np.uint8)
        label[_disc((16, 16), 8 - i)] = 1
        label[_disc((16, 16), 4 - i)] = 2
        labels[i] = label
        images[i] = label * 1.5 - 0.5
        distmaps[i] = class_distance_maps(label, 3, np.inf)
    del images, labels, distmaps
    pd.DataFrame(
        {
            "index": range(n),
            "case": ["007"] * n,
            "group": [""] * n,
            "frame": [1] * n,
            "phase": ["ED"] * n,
            "slice": range(n),
            "n_slices": [n] * n,
            "has_foreground": [True] * n,
            "region": ["basal", "mid", "apical"][:n],
        }
    ).to_csv(folder / "slices.csv", index=False)
    (folder / "meta.json").write_text(json.dumps({"num_classes": 3, "n_slices": n}))


def test_augment_dataset_writes_aligned_copies(tmp_path: Path) -> None:
    _write_preprocessed(tmp_path / "pre")
    out = tmp_path / "aug"
    augment_dataset(tmp_path / "pre", out, copies=2, seed=4)
    images = np.load(out / "images.npy")
    labels = np.load(out / "labels.npy")
    distmaps = np.load(out / "distmaps.npy")
    slices = pd.read_csv(out / "slices.csv", dtype={"case": str})
    assert images.shape == (6, SIZE, SIZE) and distmaps.shape == (6, 2, SIZE, SIZE)
    assert distmaps.dtype == np.float16
    assert list(slices.source_index) == [0, 0, 1, 1, 2, 2]
    assert list(slices["copy"]) == [1, 2, 1, 2, 1, 2]
    assert list(slices["index"]) == list(range(6))
    assert (slices.case == "007").all()
    assert json.loads((out / "meta.json").read_text())["n_slices"] == 6
    for i in range(6):
        expected = class_distance_maps(labels[i], 3, np.inf).astype(np.float16)
        np.testing.assert_array_equal(distmaps[i], expected)
        # Bright (myocardium-like ring + centre) pixels carry a nonzero label.
        assert ((images[i] > 0.25) == (labels[i] > 0)).mean() > 0.97
    assert not np.array_equal(images[0], images[1])  # the two copies differ


def test_augment_dataset_is_deterministic_per_slice(tmp_path: Path) -> None:
    _write_preprocessed(tmp_path / "pre")
    augment_dataset(tmp_path / "pre", tmp_path / "a", copies=1, seed=11)
    augment_dataset(tmp_path / "pre", tmp_path / "b", copies=1, seed=11)
    augment_dataset(tmp_path / "pre", tmp_path / "c", copies=1, seed=12)
    a, b, c = (np.load(tmp_path / name / "images.npy") for name in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A slice's transforms do not depend on how many slices come before or after it.
    (tmp_path / "short").mkdir()
    _write_preprocessed(tmp_path / "short" / "pre", n=2)
    augment_dataset(tmp_path / "short" / "pre", tmp_path / "d", copies=1, seed=11)
    np.testing.assert_array_equal(np.load(tmp_path / "d" / "images.npy"), a[:2])


def test_zero_copies_gives_an_empty_valid_folder(tmp_path: Path) -> None:
    _write_preprocessed(tmp_path / "pre")
    augment_dataset(tmp_path / "pre", tmp_path / "aug", copies=0, seed=0)
    assert np.load(tmp_path / "aug" / "images.npy").shape == (0, SIZE, SIZE)
    assert np.load(tmp_path / "aug" / "distmaps.npy").shape == (0, 2, SIZE, SIZE)
    slices = pd.read_csv(tmp_path / "aug" / "slices.csv")
    assert len(slices) == 0 and {"source_index", "copy", "case"} <= set(slices.columns)


def test_missing_preprocessed_folder_is_a_clear_error(tmp_path: Path) -> None:
    from dmr.errors import DatasetError

    with pytest.raises(DatasetError, match="dmr preprocess"):
        augment_dataset(tmp_path / "nothing", tmp_path / "aug", copies=1, seed=0)
    with pytest.raises(ValueError, match="copies"):
        augment_dataset(tmp_path / "nothing", tmp_path / "aug", copies=-1, seed=0)
