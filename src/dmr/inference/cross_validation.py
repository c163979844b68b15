"""``dmr predict-cv``: every fold's test cases with that fold's own model (paper II.F).

The in-domain predictions the metrics and tables score. Each case goes through the same
:class:`dmr.inference.predict.Predictor` as a user's own image; when asked, it also times the
forward pass of the plain network and of the regularized one it was cut from (Table I).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from dmr.errors import DatasetError, InputError
from dmr.inference.bundle import build_network, inference_precision, load_model
from dmr.inference.predict import Predictor, forward_volume, time_forward
from dmr.io import atomic_dir, write_csv, write_image
from dmr.preprocess.folds import read_folds
from dmr.train import resolve_device
from dmr.train.checkpoint import load_checkpoint
from dmr.train.precision import TRAINED

log = logging.getLogger(__name__)

TIMING_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "fold",
    "case",
    "phase",
    "n_slices",
    "ms_plain",
    "ms_regularized",
    "device",
    "precision",
)


def _load_regularized(checkpoint: Path, device: torch.device) -> nn.Module | None:
    """The full network of ``checkpoint.pt`` for timing, or None for a base (plain) model."""
    bundle = load_checkpoint(checkpoint, kind="checkpoint")
    if not bundle["model_config"].get("regularized", False):
        return None
    return build_network(bundle, checkpoint, device)


def _read_test_cases(folds_csv: Path) -> dict[int, list[str]]:
    folds = read_folds(folds_csv)
    test = folds[folds["split"] == "test"]
    return {int(k): rows["case"].tolist() for k, rows in test.groupby("fold", sort=True)}


def predict_cross_validation(
    fmt: str,
    raw_dir: Path,
    *,
    folds_csv: Path,
    models_dir: Path,
    phases: list[str],
    output: Path,
    timing_csv: Path | None = None,
    device: str = "auto",
    threads: int = 1,
    amp: str = TRAINED,
    options: Mapping[str, Any] | None = None,
) -> None:
    """``dmr predict-cv``: each fold's test cases with that fold's model (``fold{k}/model.pt``).

    Writes ``output/{case}_{phase}.nii.gz`` (the folder appears complete or not at all) and, when
    asked, ``timing_csv`` with the forward time of the plain network and of the regularized one
    rebuilt from the fold's ``checkpoint.pt`` (NaN for base models).
    """
    from dmr.datasets import read_dataset

    torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    chosen = inference_precision(torch_device, amp)
    folds_csv, models_dir, output = Path(folds_csv), Path(models_dir), Path(output)
    test_cases = _read_test_cases(folds_csv)
    cases = {case.case_id: case for case in read_dataset(fmt, raw_dir, options=options)}
    unknown = sorted({c for ids in test_cases.values() for c in ids} - set(cases))
    if unknown:
        raise DatasetError(f"{folds_csv}: test case(s) {unknown[:10]} not found in {raw_dir}")
    fold_models = {k: models_dir / f"fold{k}" / "model.pt" for k in test_cases}
    absent = [str(p) for p in fold_models.values() if not p.is_file()]
    if absent:
        raise InputError(f"{models_dir}: missing fold model(s) {absent}")

    timing_rows: list[dict[str, Any]] = []
    with atomic_dir(output) as tmp:
        for fold, case_ids in test_cases.items():
            model = load_model(fold_models[fold], torch_device)
            predictor = Predictor([model], precision=chosen)
            precision = predictor.precisions[0]
            log.info("fold %d: precision %s (%s)", fold, precision.name, precision.reason)
            regularized = (
                _load_regularized(fold_models[fold].parent / "checkpoint.pt", torch_device)
                if timing_csv is not None
                else None
            )
            items = [(c, p) for c in case_ids for p in phases]
            for case_id, phase in tqdm(items, desc=f"fold {fold}", file=sys.stderr, leave=False):
                image = cases[case_id].load_phase(phase).image
                slices, geometry = predictor.preprocess(image)
                labels = predictor.restore(predictor.segment(slices), geometry)
                write_image(tmp / f"{case_id}_{phase}.nii.gz", labels)
                if timing_csv is None:
                    continue
                # One untimed pass first so CUDA/cuDNN start-up is not charged to a volume.
                forward_volume(model.network, slices[:1], precision=precision)
                ms_regularized = math.nan
                if regularized is not None:
                    forward_volume(regularized, slices[:1], precision=precision)
                    ms_regularized = time_forward(regularized, slices, precision=precision)
                timing_rows.append(
                    {
                        "dataset": model.dataset,
                        "model": model.model_name,
                        "fold": fold,
                        "case": case_id,
                        "phase": phase,
                        "n_slices": len(slices),
                        "ms_plain": time_forward(model.network, slices, precision=precision),
                        "ms_regularized": ms_regularized,
                        "device": str(torch_device),
                        "precision": precision.name,
                    }
                )
            log.info("fold %d: predicted %d volume(s)", fold, len(items))
        if timing_csv is not None:
            timing = pd.DataFrame(timing_rows, columns=list(TIMING_COLUMNS))
            inside = _relative_inside(Path(timing_csv), output)
            # A timing file inside the prediction folder must be written before the folder's
            # rename, or the rename would replace it.
            write_csv(tmp / inside if inside is not None else timing_csv, timing)


def _relative_inside(path: Path, folder: Path) -> Path | None:
    try:
        return path.resolve().relative_to(folder.resolve())
    except ValueError:
        return None
