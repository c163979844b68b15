"""Fold datasets over tiny preprocessed/augmented folders built here in the documented format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dmr.errors import DatasetError
from dmr.preprocess.distance import truncated_signed_distance
from dmr.train.data import batch_order, build_datasets, iterate_batches

SIZE = 32
SLICES_PER_CASE = 4  # slice 0 has no foreground (an "apical" slice)
CASES = ("p0", "p1", "p2", "p3", "p4", "p5")


def disc_slice(rng: np.random.Generator, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Image and labels of one slice: LV cavity disc (3), myocardium ring (2), RV disc (1)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    centre = np.array([16.0, 18.0]) + rng.uniform(-2, 2, size=2)
    r = np.hypot(yy - centre[0], xx - centre[1])
    r_rv = np.hypot(yy - centre[0], xx - centre[1] + radius + 5)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    if radius > 0:
        labels[r_rv < radius] = 1
        labels[r < radius + 2.5] = 2
        labels[r < radius] = 3
    intensity = np.array([0.0, 2.0, -1.0, 2.5], np.float32)[labels]
    image = intensity + rng.normal(0, 0.3, size=labels.shape).astype(np.float32)
    return image.astype(np.float32), labels


def _write_folder(folder: Path, images, labels, slices: pd.DataFrame, meta: dict | None) -> None:
    folder.mkdir(parents=True)
    np.save(folder / "images.npy", np.stack(images).astype(np.float32))
    np.save(folder / "labels.npy", np.stack(labels).astype(np.uint8))
    distmaps = np.stack(
        [[truncated_signed_distance(lab == c, np.inf) for c in (1, 2, 3)] for lab in labels]
    ).astype(np.float16)
    np.save(folder / "distmaps.npy", distmaps)
    slices.to_csv(folder / "slices.csv", index=False)
    if meta is not None:
        (folder / "meta.json").write_text(json.dumps(meta))


def make_preprocessed(root: Path, copies: int = 1, seed: int = 0) -> dict[str, Path]:
    """preprocessed/, augmented/ (``copies`` jittered copies) and folds.csv with 2 folds."""
    rng = np.random.default_rng(seed)
    images, labels, rows = [], [], []
    for case in CASES:
        for s in range(SLICES_PER_CASE):
            image, label = disc_slice(rng, radius=0 if s == 0 else 3 + 1.5 * s)
            images.append(image)
            labels.append(label)
            rows.append(
                {
                    "index": len(rows),
                    "case": case,
                    "group": "NOR",
                    "frame": 1,
                    "phase": "ED",
                    "slice": s,
                    "n_slices": SLICES_PER_CASE,
                    "has_foreground": s > 0,
                    "region": "apical" if s < 2 else "basal",
                }
            )
    meta = {
        "format": "acdc",
        "spacing": 1.5,
        "size": SIZE,
        "clip_percentile": 99.0,
        "frames": "ed_es",
        "structures": ["rv", "myo", "lv"],
        "label_values": [0, 1, 2, 3],
        "num_classes": 4,
        "n_slices": len(rows),
    }
    paths = {"preprocessed": root / "preprocessed", "augmented": root / "augmented"}
    _write_folder(paths["preprocessed"], images, labels, pd.DataFrame(rows), meta)
    aug_images, aug_labels, aug_rows = [], [], []
    for copy in range(1, copies + 1):
        for row, image, label in zip(rows, images, labels, strict=True):
            shift = int(rng.integers(-2, 3))
            aug_images.append(np.roll(image, shift, axis=1))
            aug_labels.append(np.roll(label, shift, axis=1))
            aug_rows.append(
                row | {"index": len(aug_rows), "source_index": row["index"], "copy": copy}
            )
    _write_folder(paths["augmented"], aug_images, aug_labels, pd.DataFrame(aug_rows), None)
    splits = [
        {"p0": "train", "p1": "train", "p2": "train", "p3": "train", "p4": "val", "p5": "test"},
        {"p0": "test", "p1": "train", "p2": "train", "p3": "val", "p4": "train", "p5": "train"},
    ]
    folds = [
        {"fold": k, "case": c, "group": "NOR", "split": split[c]}
        for k, split in enumerate(splits)
        for c in CASES
    ]
    paths["folds"] = root / "folds.csv"
    pd.DataFrame(folds).to_csv(paths["folds"], index=False)
    return paths


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_preprocessed(tmp_path_factory.mktemp("data"))


def test_fold_selection_counts_and_cases(folders):
    train_ds, val_ds, meta = build_datasets(
        folders["preprocessed"], folders["augmented"], folders["folds"], fold=1, threshold=5
    )
    # fold 1: 4 train cases x 4 slices, original + 1 augmented copy; 1 val case, originals only
    assert len(train_ds) == 4 * SLICES_PER_CASE * 2
    assert len(val_ds) == SLICES_PER_CASE
    assert meta["num_classes"] == 4
    original = pd.read_csv(folders["preprocessed"] / "slices.csv")
    val_cases = original.iloc[val_ds._row_of]["case"].unique().tolist()
    assert val_cases == ["p3"]
    train_cases = set(original.iloc[train_ds._row_of[train_ds._source_of == 0]]["case"])
    assert train_cases == {"p1", "p2", "p4", "p5"}


def test_without_augmentation_only_originals(folders):
    train_ds, _, _ = build_datasets(
        folders["preprocessed"], None, folders["folds"], fold=0, threshold=5
    )
    assert len(train_ds) == 4 * SLICES_PER_CASE


def test_items_truncate_distances_and_keep_empty_val_slices(folders):
    threshold = 5.0
    _, val_ds, _ = build_datasets(
        folders["preprocessed"], None, folders["folds"], fold=0, threshold=threshold
    )
    images, labels, dists = val_ds.read_batch(np.arange(len(val_ds)))
    assert images.shape == (SLICES_PER_CASE, 1, SIZE, SIZE) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and dists.dtype == torch.float32
    stored = np.load(folders["preprocessed"] / "distmaps.npy")[val_ds._row_of]
    np.testing.assert_array_equal(dists.numpy(), np.maximum(stored.astype(np.float32), -threshold))
    # the empty (apical) slice is in the validation set, its maps at -T everywhere (Eq. 2)
    empty = (labels == 0).flatten(1).all(dim=1)
    assert empty.sum() == 1
    assert torch.all(dists[empty] == -threshold)
    assert dists.min() == -threshold and dists.max() > 1


def test_batches_follow_requested_order_and_seeded_shuffle(folders):
    train_ds, _, _ = build_datasets(
        folders["preprocessed"], folders["augmented"], folders["folds"], fold=0, threshold=5
    )
    order = np.array([20, 3, 30, 0])  # mixes both sources, unsorted
    images, _, _ = train_ds.read_batch(order)
    for k, index in enumerate(order):
        np.testing.assert_array_equal(images[k], train_ds[int(index)][0])
    a = batch_order(len(train_ds), 5, shuffle=True, seed=1, epoch=2)
    b = batch_order(len(train_ds), 5, shuffle=True, seed=1, epoch=2)
    c = batch_order(len(train_ds), 5, shuffle=True, seed=1, epoch=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))
    assert sorted(np.concatenate(a).tolist()) == list(range(len(train_ds)))
    assert sum(len(batch[0]) for batch in iterate_batches(train_ds, 7, shuffle=False)) == len(
        train_ds
    )


def test_unknown_fold_is_an_error(folders):
    with pytest.raises(DatasetError, match=r"folds\.csv.*fold 7 not found"):
        build_datasets(folders["preprocessed"], None, folders["folds"], fold=7, threshold=5)


def test_case_missing_from_slices_names_both(folders, tmp_path):
    folds = pd.read_csv(folders["folds"])
    folds.loc[0, "case"] = "ghost"
    bad = tmp_path / "folds.csv"
    folds.to_csv(bad, index=False)
    with pytest.raises(DatasetError, match=r"folds\.csv.*ghost.*slices\.csv"):
        build_datasets(folders["preprocessed"], None, bad, fold=0, threshold=5)


def test_empty_validation_set_is_an_error(folders, tmp_path):
    folds = pd.read_csv(folders["folds"])
    folds.loc[(folds["fold"] == 0) & (folds["split"] == "val"), "split"] = "train"
    bad = tmp_path / "folds.csv"
    folds.to_csv(bad, index=False)
    with pytest.raises(DatasetError, match="empty val set"):
        build_datasets(folders["preprocessed"], None, bad, fold=0, threshold=5)


def test_first_augmented_copies_equal_a_smaller_augmentation(tmp_path):
    """A training on the first copy of a two-copy ``dmr augment`` output sees exactly the items,
    in the same order, of one on a one-copy output: the default gives SegNet both copies and the
    U-Net family the first from one augment job, as if each had its own."""
    from dmr.preprocess.augment import augment_dataset

    paths = make_preprocessed(tmp_path)
    for copies in (1, 2):
        augment_dataset(paths["preprocessed"], tmp_path / f"aug{copies}", copies=copies, seed=3)

    def train_set(augmented: str, copies: int | None = None):
        return build_datasets(
            paths["preprocessed"],
            tmp_path / augmented,
            paths["folds"],
            fold=0,
            threshold=5,
            augmented_copies=copies,
        )[0]

    one, first, both = train_set("aug1"), train_set("aug2", copies=1), train_set("aug2")
    assert len(first) == len(one) == 2 * 4 * SLICES_PER_CASE
    assert len(both) == 3 * 4 * SLICES_PER_CASE
    order = np.arange(len(one))
    for a, b in zip(one.read_batch(order), first.read_batch(order), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(
        DatasetError,
        match=r"aug1: holds 1 augmented copy per slice, training "
        r"asks for 2",
    ):
        train_set("aug1", copies=2)
