"""Predict every case of a dataset split with the majority vote of a model's K fold models.

Used for the held-out test sets (ACDC ``testing/``, Table III; the LVSC validation split, Table V)
and for cross-dataset evaluation (Table VI: models trained on dataset A predict every case of
dataset B). Each volume goes through the same :class:`dmr.predict.Predictor` as cross-validation
and users' files: the models' own preprocessing (spacing, crop/pad size, clipping, z-score, the
canonical in-plane orientation), a per-pixel majority vote of the fold models, then the largest
3-D connected component per structure, written in the case's original geometry.

Which frames are predicted (``frames``):

* ``ed_es``: the ED and ES frame of every case, files ``{case}_{phase}.nii.gz``;
* ``labelled``: every frame that has a reference (the LVSC validation set is scored on all
  frames of the consensus images), files ``{case}_frame{NN}.nii.gz``;
* ``all``: every frame (e.g. to submit a split without references to its challenge), same names.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from dmr.datasets import Case, read_dataset
from dmr.errors import DatasetError
from dmr.io import atomic_dir, write_image
from dmr.predict import Predictor

log = logging.getLogger(__name__)

FRAME_SETS: tuple[str, ...] = ("ed_es", "labelled", "all")


def frame_file(case_id: str, frame: int) -> str:
    """File name of one frame's prediction in ``labelled`` mode."""
    return f"{case_id}_frame{frame:02d}.nii.gz"


def frames_to_predict(case: Case, frames: str) -> list[tuple[str, int]]:
    """(file name, frame number) of every volume of ``case`` predicted in mode ``frames``."""
    if frames == "ed_es":
        if not 1 <= case.es_frame <= case.n_frames:
            raise DatasetError(
                f"{case.path}: ES frame unknown (no masks to measure it); predict its labelled "
                "frames instead (frames: labelled)"
            )
        return [(f"{case.case_id}_{phase}.nii.gz", case.frame_of(phase)) for phase in ("ED", "ES")]
    if frames == "labelled":
        return [(frame_file(case.case_id, f), f) for f in case.labelled_frames]
    if frames == "all":
        return [(frame_file(case.case_id, f), f) for f in range(1, case.n_frames + 1)]
    raise ValueError(f"frames must be one of {FRAME_SETS}, got {frames!r}")


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
    amp: str = "auto",
) -> int:
    """Write the ensemble's prediction of every case of ``split`` into ``output`` (atomically).

    ``models``: model folders holding ``fold*/model.pt`` (or model files); all of them vote.
    ``amp``: precision of inference, as in training (:mod:`dmr.precision`).
    Returns the number of volumes written. A split without cases, or (``labelled``) without any
    reference, is an error naming the folder: there is nothing to predict.
    """
    torch.set_num_threads(threads)
    predictor = Predictor.from_paths(list(models), device, amp)
    cases = read_dataset(fmt, raw_dir, split=split, references=references)
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
    with atomic_dir(output) as tmp:
        for case, name, frame in tqdm(items, desc=f"predict {split}", file=sys.stderr):
            image = case.load_frame(frame).image
            write_image(tmp / name, predictor.predict_volume(image))
    return len(items)
