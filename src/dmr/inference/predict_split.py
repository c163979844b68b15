"""Predict every case of a dataset split with the majority vote of a model's K fold models.

Used for the held-out test sets (ACDC ``testing/``, Table III; the LVSC validation split, Table V)
and for cross-dataset evaluation (Table VI: models trained on dataset A predict every case of
dataset B). Each volume goes through the same :class:`dmr.inference.predict.Predictor` as
cross-validation and users' files: the models' own preprocessing (spacing, crop/pad size, clipping,
z-score, the canonical in-plane orientation), a per-pixel majority vote of the fold models, then the
largest 3-D connected component per structure, written in the case's original geometry.

Which frames are predicted, and the files' names, are :mod:`dmr.datasets.frames`'s ``frames`` modes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dmr.datasets import read_dataset
from dmr.datasets.frames import frames_to_predict
from dmr.errors import DatasetError
from dmr.inference.predict import Predictor
from dmr.io import atomic_dir, write_image

log = logging.getLogger(__name__)


def predict_split(
    fmt: str,
    raw_dir: Path,
    *,
    split: str,
    models: list[Path],
    output: Path,
    frames: str = "ed_es",
    references: Path | None = None,
    device: str = "auto",
    threads: int = 1,
    amp: str = "trained",
    options: Mapping[str, Any] | None = None,
    each_model: Path | None = None,
) -> int:
    """Write the ensemble's prediction of every case of ``split`` into ``output`` (atomically).

    ``models``: model folders holding ``fold*/model.pt`` (or model files); all of them vote.
    ``each_model``: also write each model's own prediction to ``each_model/fold<k>/`` (the fold
    the model was trained in), so that a difference can be checked in every training.
    ``amp``: precision of inference: ``trained`` (each model's own) or as in training
    (:mod:`dmr.train.precision`).
    Returns the number of volumes written. A split without cases, or (``labelled``) without any
    reference, is an error naming the folder: there is nothing to predict.
    """
    torch.set_num_threads(threads)
    predictor = Predictor.from_paths(list(models), device, amp)
    cases = read_dataset(fmt, raw_dir, split=split, references=references, options=options)
    items = [
        (case, name, frame) for case in cases for name, frame in frames_to_predict(case, frames)
    ]
    if not items:
        raise DatasetError(
            f"{raw_dir} ({split}): no frame to predict in mode {frames!r} (no references?)"
        )
    log.info(
        "%d volume(s) of %d case(s) of %s/%s, %d-model vote",
        len(items),
        len(cases),
        raw_dir,
        split,
        len(predictor.models),
    )
    if each_model is None:
        with atomic_dir(output) as tmp:
            for case, name, frame in tqdm(items, desc=f"predict {split}", file=sys.stderr):
                image = case.load_frame(frame).image
                write_image(tmp / name, predictor.predict_volume(image))
        return len(items)
    folders = [f"fold{model.fold}" for model in predictor.models]
    if len(set(folders)) != len(folders):
        raise DatasetError(f"--each-model: the models' folds {folders} are not distinct")
    with atomic_dir(output) as tmp, atomic_dir(each_model) as tmp_each:
        for folder in folders:
            (tmp_each / folder).mkdir()
        for case, name, frame in tqdm(items, desc=f"predict {split}", file=sys.stderr):
            ensemble, own = predictor.predict_volume_each(case.load_frame(frame).image)
            write_image(tmp / name, ensemble)
            for folder, labels in zip(folders, own, strict=True):
                write_image(tmp_each / folder / name, labels)
    return len(items)
