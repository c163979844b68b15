"""Training and validation slices of one fold, read lazily from the preprocessed folders.

The arrays written by ``dmr preprocess`` / ``dmr augment`` (docs/formats.md) are read row by row
(``dmr.preprocess.npy.NpyRowReader``, not memory maps whose touched pages would all stay resident):
only the rows of the current batch are in memory, so memory stays bounded for the full LVSC.
Distance maps are stored untruncated; truncation at the training's own T happens here
with ``max(D, -T)``, which is exactly paper Eq. 2 (a slice without the class, stored as
``-inf``, becomes ``-T`` everywhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dmr.errors import DatasetError
from dmr.preprocess.folds import read_folds
from dmr.preprocess.npy import NpyRowReader

ARRAY_FILES: tuple[str, ...] = ("images.npy", "labels.npy", "distmaps.npy")


@dataclass(frozen=True)
class SliceSource:
    """Row readers of the arrays and the slice table of one preprocessed (or augmented) folder."""

    folder: Path
    images: NpyRowReader  # float32 (N, S, S)
    labels: NpyRowReader  # uint8 (N, S, S), class indices
    distmaps: NpyRowReader  # float16 (N, C-1, S, S), untruncated
    slices: pd.DataFrame


def open_slice_source(folder: str | Path) -> SliceSource:
    """Open one folder's arrays for row reads and read its ``slices.csv``, checking they agree."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: slice folder not found")
    missing = [n for n in (*ARRAY_FILES, "slices.csv") if not (folder / n).is_file()]
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)}")
    try:
        images, labels, distmaps = (NpyRowReader(folder / n) for n in ARRAY_FILES)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{folder}: cannot read the slice arrays ({exc})") from exc
    slices = pd.read_csv(folder / "slices.csv", dtype={"case": str})
    n = len(slices)
    if len(images.shape) != 3 or labels.shape != images.shape:
        raise DatasetError(
            f"{folder}: images.npy {images.shape} and labels.npy {labels.shape} must both be "
            "(N, S, S)"
        )
    if len(distmaps.shape) != 4 or distmaps.shape[0] != n or distmaps.shape[2:] != images.shape[1:]:
        raise DatasetError(f"{folder}: distmaps.npy {distmaps.shape} does not match the images")
    if images.shape[0] != n:
        raise DatasetError(
            f"{folder}: slices.csv has {n} rows but images.npy has {images.shape[0]} slices"
        )
    return SliceSource(folder, images, labels, distmaps, slices)


def read_meta(preprocessed: str | Path) -> dict[str, Any]:
    """The preprocessed folder's ``meta.json`` (num_classes, structures, label_values, ...)."""
    path = Path(preprocessed) / "meta.json"
    if not path.is_file():
        raise DatasetError(f"{path}: meta.json not found (run `dmr preprocess` first)")
    meta = json.loads(path.read_text(encoding="utf-8"))
    missing = [
        k
        for k in ("spacing", "size", "clip_percentile", "structures", "label_values", "num_classes")
        if k not in meta
    ]
    if missing:
        raise DatasetError(f"{path}: missing key(s) {missing}")
    return meta


class SliceDataset(Dataset):
    """Slices from one or more sources; items are ``(image (1,S,S), label (S,S), dist (C-1,S,S))``.

    ``read_batch`` reads several items at once with sorted row indices per source (sequential
    reads of each file) and returns them in the requested order; ``dmr.train.batches`` holds the
    rows in memory instead when they fit.
    """

    def __init__(self, parts: list[tuple[SliceSource, np.ndarray]], threshold: float) -> None:
        if not threshold > 0:
            raise ValueError(f"distance threshold must be > 0, got {threshold}")
        self.threshold = float(threshold)
        self.sources = [source for source, _ in parts]
        self._source_of = np.concatenate(
            [np.full(len(rows), i, dtype=np.int64) for i, (_, rows) in enumerate(parts)]
        )
        self._row_of = np.concatenate([np.asarray(rows, dtype=np.int64) for _, rows in parts])

    def __len__(self) -> int:
        return len(self._row_of)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, labels, dists = self.read_batch(np.array([index]))
        return images[0], labels[0], dists[0]

    def read_raw(
        self, indices: np.ndarray, *, distances: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The stored rows in the requested order: images float32 (B,S,S), labels and untruncated
        distances (B,C-1,S,S) in their stored dtypes (uint8, float16), distances None without
        ``distances``.

        Rows are read in sorted order per source (sequential reads of each file).
        """
        indices = np.asarray(indices, dtype=np.int64)
        first = self.sources[0]
        size = first.images.shape[1:]
        images = np.empty((len(indices), *size), dtype=np.float32)
        labels = np.empty((len(indices), *size), dtype=first.labels.dtype)
        dists = (
            np.empty((len(indices), *first.distmaps.shape[1:]), dtype=first.distmaps.dtype)
            if distances
            else None
        )
        for s, source in enumerate(self.sources):
            where = np.flatnonzero(self._source_of[indices] == s)
            if len(where) == 0:
                continue
            rows = self._row_of[indices[where]]
            order = np.argsort(rows, kind="stable")
            sorted_rows, sorted_where = rows[order], where[order]
            images[sorted_where] = source.images.read(sorted_rows)
            labels[sorted_where] = source.labels.read(sorted_rows)
            if dists is not None:
                dists[sorted_where] = source.distmaps.read(sorted_rows)
        return images, labels, dists

    def read_batch(
        self, indices: np.ndarray, *, distances: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Images float32 (B,1,S,S), labels int64 (B,S,S), truncated distances float32
        (B,C-1,S,S) (None without ``distances``: base models never read them)."""
        images, labels, dists = self.read_raw(indices, distances=distances)
        truncated = None
        if dists is not None:
            # Paper Eq. 2 from the untruncated map: -inf (class absent) becomes -T.
            truncated = torch.from_numpy(np.maximum(dists, -self.threshold, dtype=np.float32))
        return (
            torch.from_numpy(images[:, None]),
            torch.from_numpy(labels.astype(np.int64)),
            truncated,
        )


def batch_order(n_items: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int) -> list:
    """Index batches of one epoch; the shuffle depends only on ``(seed, epoch)`` (exact resume)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if shuffle:
        generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        order = torch.randperm(n_items, generator=generator).numpy()
    else:
        order = np.arange(n_items)
    return [order[i : i + batch_size] for i in range(0, n_items, batch_size)]


def epoch_seed(seed: int, epoch: int) -> int:
    """A seed for epoch ``epoch`` of a run seeded with ``seed`` (distinct across epochs/seeds)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def iterate_batches(
    dataset: SliceDataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``dataset.read_batch`` for each batch of :func:`batch_order`."""
    for indices in batch_order(len(dataset), batch_size, shuffle=shuffle, seed=seed, epoch=epoch):
        yield dataset.read_batch(indices)


def read_fold(folds_csv: str | Path, fold: int) -> tuple[list[str], list[str], list[str]]:
    """Train, val and test case ids of ``fold`` from ``folds.csv``."""
    folds = read_folds(folds_csv)
    if fold not in set(folds["fold"]):
        raise DatasetError(
            f"{folds_csv}: fold {fold} not found (folds present: {sorted(set(folds['fold']))})"
        )
    rows = folds[folds["fold"] == fold]
    return tuple(rows.loc[rows["split"] == s, "case"].tolist() for s in ("train", "val", "test"))


def _rows_of_cases(source: SliceSource, cases: list[str]) -> np.ndarray:
    return np.flatnonzero(source.slices["case"].isin(cases).to_numpy())


def _first_copies(source: SliceSource, copies: int) -> np.ndarray:
    """Mask of the rows of an augmented folder that are among the first ``copies`` of their
    slice, checked against the copies the folder holds."""
    if "copy" not in source.slices.columns:
        raise DatasetError(
            f"{source.folder / 'slices.csv'}: no `copy` column (not `dmr augment` output)"
        )
    held = int(source.slices["copy"].max()) if len(source.slices) else 0
    if copies > held:
        raise DatasetError(
            f"{source.folder}: holds {held} augmented cop{'y' if held == 1 else 'ies'} per slice, "
            f"training asks for {copies} (raise the dataset's `augment.copies` to at least "
            f"{copies})"
        )
    return (source.slices["copy"] <= copies).to_numpy()


def build_datasets(
    preprocessed: str | Path,
    augmented: str | Path | None,
    folds_csv: str | Path,
    fold: int,
    threshold: float,
    *,
    augmented_copies: int | None = None,
) -> tuple[SliceDataset, SliceDataset, dict[str, Any]]:
    """Training set (original + augmented slices of the fold's train cases) and validation set.

    ``augmented_copies`` keeps the first N copies of each slice (``slices.csv`` column ``copy``)
    and all when None; asking for more than the folder holds is an error, not a shorter epoch.

    The validation set holds ALL original slices of the val cases, including those without any
    foreground (apical/basal), where the regularizer is meant to help.

    Returns:
        ``(train_ds, val_ds, meta)`` with ``meta`` the preprocessed folder's ``meta.json``.
    """
    meta = read_meta(preprocessed)
    original = open_slice_source(preprocessed)
    train_cases, val_cases, test_cases = read_fold(folds_csv, fold)
    known = set(original.slices["case"])
    absent = sorted(set(train_cases + val_cases + test_cases) - known)
    if absent:
        raise DatasetError(
            f"{folds_csv}: case(s) {absent[:10]} of fold {fold} have no slices in "
            f"{Path(preprocessed) / 'slices.csv'}"
        )
    n_fg = original.distmaps.shape[1]
    if n_fg != int(meta["num_classes"]) - 1:
        raise DatasetError(
            f"{preprocessed}: distmaps.npy has {n_fg} channels, meta.json num_classes is "
            f"{meta['num_classes']}"
        )
    train_parts = [(original, _rows_of_cases(original, train_cases))]
    if augmented is not None:
        extra = open_slice_source(augmented)
        if extra.images.shape[1:] != original.images.shape[1:] or extra.distmaps.shape[1] != n_fg:
            raise DatasetError(
                f"{augmented}: slice shape {extra.distmaps.shape[1:]} differs from "
                f"{preprocessed} {original.distmaps.shape[1:]}"
            )
        rows = _rows_of_cases(extra, train_cases)
        if augmented_copies is not None:
            rows = rows[_first_copies(extra, augmented_copies)[rows]]
        train_parts.append((extra, rows))
    train_ds = SliceDataset(train_parts, threshold)
    val_ds = SliceDataset([(original, _rows_of_cases(original, val_cases))], threshold)
    for name, ds, cases in (("train", train_ds, train_cases), ("val", val_ds, val_cases)):
        if len(ds) == 0:
            raise DatasetError(
                f"{folds_csv}: fold {fold} has an empty {name} set ({len(cases)} case(s))"
            )
    return train_ds, val_ds, meta
