"""Evaluate a split's ensemble predictions (:mod:`dmr.inference.predict_split`) against its
references.

The same per-volume kernel as cross-validation (:func:`dmr.evaluation.evaluate.evaluate_volume`)
fills the same tables, with ``fold = -1`` meaning "majority vote of the K fold models":

* held-out test sets: ACDC ``testing/`` (Table III) and the LVSC validation split scored against
  its consensus images (Table V; per-slice counts inside the challenge's region of interest,
  :mod:`dmr.evaluation.roi`, in the ``roi_*`` columns of the slice table);
* cross-dataset evaluation (Table VI): a model trained on dataset A segments dataset B; only the
  structures both formats annotate are scored (ACDC and LVSC share the myocardium, label 2), and
  every other label, in the reference and in the prediction, counts as background.

The metric table holds the ED and ES volumes (``phase``); the slice table holds every evaluated
frame (``frame``, with ``phase`` ED, ES or empty). A split whose references are missing (the
ACDC challenge's original testing release has no ``_gt`` files) gives empty tables and a status
that says so; it is never scored against anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from dmr.datasets import Case, dataset_structures, read_dataset
from dmr.datasets.frames import frames_to_predict
from dmr.errors import DatasetError, InputError
from dmr.evaluation.evaluate import (
    ID_COLUMNS,
    METRIC_COLUMNS,
    SLICE_COLUMNS,
    EvaluationResult,
    clinical_table,
    evaluate_volume,
    parse_model_name,
    read_label_map,
    spacing_zyx,
)
from dmr.evaluation.metrics import slice_confusion
from dmr.evaluation.roi import volume_roi_confusion
from dmr.labels import FORMAT_STRUCTURES, STRUCTURE_LABELS
from dmr.preprocess.regions import slice_regions

log = logging.getLogger(__name__)

#: ``fold`` of a K-fold majority-vote ensemble in every table.
ENSEMBLE_FOLD = -1
ROI_COLUMNS: tuple[str, ...] = ("roi_tp", "roi_fp", "roi_fn", "roi_tn")


@dataclass(frozen=True)
class SplitEvaluation(EvaluationResult):
    """The three tables plus what was (not) evaluated and why (``status.json``)."""

    status: dict[str, Any] = field(default_factory=dict)


def shared_structures(train_format: str, test_format: str) -> tuple[str, ...]:
    """Structures annotated by both formats, in the test format's order (ACDC x LVSC: myo)."""
    train = set(FORMAT_STRUCTURES[train_format])
    return tuple(s for s in FORMAT_STRUCTURES[test_format] if s in train)


def keep_structures(image: sitk.Image, structures: tuple[str, ...]) -> sitk.Image:
    """A copy of a label map where every label outside ``structures`` is background."""
    array = sitk.GetArrayFromImage(image)
    keep = np.isin(array, [STRUCTURE_LABELS[s] for s in structures])
    out = sitk.GetImageFromArray(np.where(keep, array, 0).astype(np.uint8))
    out.CopyInformation(image)
    return out


def references_status(
    fmt: str,
    raw_dir: Path,
    *,
    split: str,
    references: Path | None,
    frames: str,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Which cases of a split have references for the frames to evaluate (``status.json``)."""
    cases = read_dataset(fmt, raw_dir, split=split, references=references, options=options)
    with_reference, without = [], []
    for case in cases:
        wanted = [frame for _, frame in _frames_or_empty(case, frames)]
        labelled = set(case.labelled_frames)
        (with_reference if wanted and set(wanted) <= labelled else without).append(case.case_id)
    status: dict[str, Any] = {
        "split": split,
        "raw": str(raw_dir),
        "references_folder": None if references is None else str(references),
        "n_cases": len(cases),
        "n_cases_with_references": len(with_reference),
        "cases_without_references": without,
        "references": bool(with_reference),
    }
    if not with_reference:
        where = references if references is not None else Path(raw_dir) / split
        status["reason"] = (
            f"no reference labels in {where} (e.g. the ACDC challenge's original testing "
            "release has no _gt files, the LVSC consensus images are distributed on request)"
        )
    return status


def _frames_or_empty(case: Case, frames: str) -> list[tuple[str, int]]:
    try:
        return frames_to_predict(case, frames)
    except DatasetError:  # e.g. ES unknown without masks: nothing to evaluate for ED/ES
        return []


def _phase_of(case: Case, frame: int) -> str:
    if frame == case.ed_frame:
        return "ED"
    if 1 <= case.es_frame <= case.n_frames and frame == case.es_frame:
        return "ES"
    return ""


def evaluate_split(
    fmt: str,
    raw_dir: Path,
    *,
    split: str,
    predictions: Path,
    dataset: str,
    model: str,
    frames: str = "ed_es",
    references: Path | None = None,
    structures: tuple[str, ...] | None = None,
    roi_margin_mm: float | None = None,
    density: float = 1.06,
    options: Mapping[str, Any] | None = None,
) -> SplitEvaluation:
    """Score ``predictions`` (files named as :func:`dmr.datasets.frames.frames_to_predict` writes
    them) of every case of ``split`` that has references.

    Args:
        dataset: the ``dataset`` column (e.g. ``acdc``, or ``acdc_to_lvsc`` across datasets).
        structures: structures to score (default: all of the format's); labels outside them are
            background in both reference and prediction.
        roi_margin_mm: also count TP/FP/FN/TN per slice inside the challenge's ROI (``roi_*``).

    Raises:
        InputError: predictions missing for some evaluated volumes (all are listed).
    """
    arch, variant = parse_model_name(model)
    structures = tuple(structures or dataset_structures(fmt, options))
    status = references_status(
        fmt, raw_dir, split=split, references=references, frames=frames, options=options
    )
    cases = [
        c
        for c in read_dataset(fmt, raw_dir, split=split, references=references, options=options)
        if c.case_id not in set(status["cases_without_references"])
    ]
    items = [
        (case, name, frame) for case in cases for name, frame in frames_to_predict(case, frames)
    ]
    missing = [
        str(predictions / name) for _, name, _ in items if not (predictions / name).is_file()
    ]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(items)} prediction file(s) missing in {predictions}: "
            + ", ".join(missing[:20])
        )
    metric_rows: list[dict[str, Any]] = []
    slice_rows: list[dict[str, Any]] = []
    for case, name, frame in tqdm(items, desc=f"metrics {split}", unit="volume"):
        ids = {
            "dataset": dataset,
            "model": model,
            "arch": arch,
            "variant": variant,
            "fold": ENSEMBLE_FOLD,
            "case": case.case_id,
            "group": case.group or "",
        }
        phase = _phase_of(case, frame)
        loaded = case.load_frame(frame)
        reference_name = f"{case.path} (frame {frame} reference)"
        reference = keep_structures(loaded.label, structures)
        prediction = keep_structures(read_label_map(predictions / name), structures)
        gt, pred, rows = evaluate_volume(
            reference,
            prediction,
            structures,
            reference_name=reference_name,
            prediction_name=predictions / name,
        )
        if phase:
            metric_rows.extend({**ids, "phase": phase, **r} for r in rows)
        try:
            regions = slice_regions(gt)
        except ValueError as exc:
            raise DatasetError(f"{reference_name}: {exc}") from exc
        for structure in structures:
            label = STRUCTURE_LABELS[structure]
            counts = slice_confusion(gt, pred, label)
            roi = (
                volume_roi_confusion(
                    gt == label, pred == label, spacing_zyx(reference), roi_margin_mm
                )
                if roi_margin_mm is not None
                else [{}] * len(counts)
            )
            for s, r in zip(counts, roi, strict=True):
                slice_rows.append(
                    {
                        **ids,
                        "frame": frame,
                        "phase": phase,
                        "structure": structure,
                        "region": regions[int(s["slice"])],
                        **s,
                        **{k: v for k, v in r.items() if k != "slice"},
                    }
                )
    metrics = pd.DataFrame(
        metric_rows, columns=[*ID_COLUMNS, "phase", "structure", *METRIC_COLUMNS]
    )
    slice_columns = [*ID_COLUMNS, "frame", *SLICE_COLUMNS]
    if roi_margin_mm is not None:
        slice_columns += list(ROI_COLUMNS)
        status["roi_margin_mm"] = float(roi_margin_mm)
    slices = pd.DataFrame(slice_rows, columns=slice_columns)
    status |= {
        "structures": list(structures),
        "frames": frames,
        "n_volumes": len(items),
        "n_slices": int(slices[["case", "frame", "slice"]].drop_duplicates().shape[0]),
    }
    log.info("%s %s: %d volume(s) of %d case(s) scored", dataset, model, len(items), len(cases))
    return SplitEvaluation(
        metrics=metrics,
        slices=slices,
        clinical=clinical_table(metrics, density),
        status=status,
    )
