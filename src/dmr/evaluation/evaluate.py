"""Drivers that loop over cases and turn label maps into the tidy metric tables.

Two entry points share the per-volume kernel :func:`evaluate_volume`:

* :func:`evaluate_folders` (``dmr evaluate GT_DIR PRED_DIR``): users' own NIfTI predictions,
  matched by file name, like the ACDC organisers' evaluation script.
* :func:`evaluate_cross_validation` (``dmr metrics``): the workflow's cross-validation
  predictions ``{case}_{phase}.nii.gz`` against the raw dataset's references.

Metric definitions (surfaces, connectivity, spacing, empty-mask policy) are those of
:mod:`dmr.evaluation.metrics`; every file problem is an error naming the file, nothing is skipped
silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from dmr import datasets
from dmr.errors import DatasetError, InputError
from dmr.evaluation.clinical import clinical_indices
from dmr.evaluation.metrics import slice_confusion, structure_metrics
from dmr.geometry import geometry_mismatch
from dmr.labels import LABEL_VALUES, PHASES, STRUCTURE_LABELS
from dmr.preprocess.folds import read_folds
from dmr.preprocess.regions import slice_regions

log = logging.getLogger(__name__)

ARCHS: tuple[str, ...] = ("segnet", "usegnet", "unet")
METRIC_COLUMNS: tuple[str, ...] = (
    "dice",
    "jaccard",
    "msd_mm",
    "hd_mm",
    "volume_gt_ml",
    "volume_pred_ml",
)
#: Columns identifying one model's evaluation in every cross-validation table.
ID_COLUMNS: tuple[str, ...] = ("dataset", "model", "arch", "variant", "fold", "case", "group")
#: Columns of the per-slice table after the identifying ones.
SLICE_COLUMNS: tuple[str, ...] = (
    "phase",
    "structure",
    "slice",
    "region",
    "tp",
    "fp",
    "fn",
    "tn",
    "dice",
)

_NIFTI_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii")


@dataclass(frozen=True)
class EvaluationResult:
    """Tables of ``dmr metrics``: per structure, per slice and clinical indices (long format)."""

    metrics: pd.DataFrame
    slices: pd.DataFrame
    clinical: pd.DataFrame


# --------------------------------------------------------------------------- names
def parse_model_name(model: str) -> tuple[str, str]:
    """Split ``{arch}-{variant}`` (e.g. ``unet-dmr``, ``segnet-dmr_fixed``) into its parts."""
    arch, sep, variant = model.partition("-")
    if not sep or arch not in ARCHS or not variant:
        raise InputError(
            f"model name {model!r} is not '{{arch}}-{{variant}}' with arch in {ARCHS} "
            "(e.g. 'unet-dmr')"
        )
    return arch, variant


def nifti_stem(path: Path) -> str | None:
    """File name without ``.nii``/``.nii.gz``, or ``None`` when it is not a NIfTI name."""
    name = path.name
    for suffix in _NIFTI_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


# --------------------------------------------------------------------------- reading
def read_label_map(path: Path) -> sitk.Image:
    """Read a 3-D label map; InputError naming the file when unreadable or not 3-D."""
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        raise InputError(
            f"{path}: unreadable image ({lines[-1] if lines else 'unknown error'})"
        ) from exc
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path}: expected a 3-D scalar label map, got size {image.GetSize()} with "
            f"{image.GetNumberOfComponentsPerPixel()} component(s)"
        )
    return image


def label_array(image: sitk.Image, source: Path | str) -> np.ndarray:
    """(Z, Y, X) uint8 array of a label map whose values must be integers in {0, 1, 2, 3}."""
    array = sitk.GetArrayFromImage(image)
    values = np.unique(array)
    unexpected = [v for v in values.tolist() if v not in LABEL_VALUES]
    if unexpected:
        shown = ", ".join(f"{v:g}" for v in unexpected[:10])
        raise InputError(
            f"{source}: label values [{shown}] outside the allowed {list(LABEL_VALUES)} "
            "(0 background, 1 RV, 2 myocardium, 3 LV)"
        )
    return array.astype(np.uint8, copy=False)


def spacing_zyx(image: sitk.Image) -> tuple[float, ...]:
    """Voxel spacing (mm) in the axis order of ``sitk.GetArrayFromImage`` (z, y, x)."""
    return tuple(float(s) for s in reversed(image.GetSpacing()))


# --------------------------------------------------------------------------- one volume
def evaluate_volume(
    reference: sitk.Image,
    prediction: sitk.Image,
    structures: tuple[str, ...] | list[str],
    *,
    reference_name: Path | str,
    prediction_name: Path | str,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, float | str]]]:
    """Check one reference/prediction pair and compute its per-structure metrics.

    Returns the (Z, Y, X) reference and prediction arrays and :func:`structure_metrics` rows.
    Raises InputError naming both files when their grids differ (beyond
    :data:`GEOMETRY_TOLERANCE`) or a label value is outside {0, 1, 2, 3}.
    """
    mismatch = geometry_mismatch(reference, prediction, expected_name="reference")
    if mismatch is not None:
        raise InputError(f"{prediction_name}: {mismatch} ({reference_name})")
    gt = label_array(reference, reference_name)
    pred = label_array(prediction, prediction_name)
    rows = structure_metrics(gt, pred, spacing_zyx(reference), structures)
    return gt, pred, rows


# --------------------------------------------------------------------------- folders
def _nifti_files(folder: Path, role: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: {role} folder does not exist or is not a folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        stem = nifti_stem(path)
        if stem is None or not path.is_file():
            continue
        if stem in files:
            raise InputError(
                f"{folder}: two {role} files for case {stem!r}: {files[stem].name} and {path.name}"
            )
        files[stem] = path
    return files


def evaluate_folders(gt_dir: Path, pred_dir: Path) -> pd.DataFrame:
    """Metrics of every prediction in ``pred_dir`` against the same-named reference in ``gt_dir``.

    Files are ``.nii``/``.nii.gz`` label maps (0 bg, 1 RV, 2 myo, 3 LV) matched by name without
    extension; distances use the headers' spacing (mm). Returns one row per case x structure with
    ``case, structure, dice, jaccard, msd_mm, hd_mm, volume_gt_ml, volume_pred_ml``. Raises
    InputError for an empty folder, files without partner (all listed), unreadable or non-3-D
    files, grid mismatches and label values outside {0, 1, 2, 3}.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    references = _nifti_files(gt_dir, "reference")
    predictions = _nifti_files(pred_dir, "prediction")
    if not references:
        raise InputError(f"{gt_dir}: no reference NIfTI files (.nii, .nii.gz)")
    without_prediction = sorted(set(references) - set(predictions))
    without_reference = sorted(set(predictions) - set(references))
    if without_prediction or without_reference:
        problems = []
        if without_prediction:
            names = ", ".join(references[c].name for c in without_prediction)
            problems.append(f"no prediction in {pred_dir} for reference(s) {names}")
        if without_reference:
            names = ", ".join(predictions[c].name for c in without_reference)
            problems.append(f"no reference in {gt_dir} for prediction(s) {names}")
        raise InputError("; ".join(problems))

    structures = tuple(STRUCTURE_LABELS)
    rows: list[dict[str, object]] = []
    for case in tqdm(sorted(references), desc="evaluate", unit="case"):
        gt_path, pred_path = references[case], predictions[case]
        _, _, metrics = evaluate_volume(
            read_label_map(gt_path),
            read_label_map(pred_path),
            structures,
            reference_name=gt_path,
            prediction_name=pred_path,
        )
        rows.extend({"case": case, **row} for row in metrics)
    return pd.DataFrame(rows, columns=["case", "structure", *METRIC_COLUMNS])


# --------------------------------------------------------------------------- cross-validation
def read_test_assignments(folds_csv: Path) -> pd.DataFrame:
    """``case, fold, group`` of every case in a test split of ``folds.csv`` (one fold per case)."""
    folds = read_folds(folds_csv)
    test = folds.loc[folds["split"] == "test", ["case", "fold", "group"]].copy()
    if test.empty:
        raise InputError(f"{folds_csv}: no row with split 'test'")
    repeated = sorted(test.loc[test["case"].duplicated(), "case"].unique())
    if repeated:
        raise InputError(f"{folds_csv}: case(s) in more than one test split: {repeated}")
    return test.sort_values(["fold", "case"]).reset_index(drop=True)


def _phase_reference(case: datasets.Case, phase: str) -> sitk.Image:
    frame = case.load_phase(phase)
    if frame.label is None:
        raise DatasetError(
            f"{case.path}: no reference label for {phase} (frame {case.frame_of(phase)})"
        )
    return frame.label


def evaluate_cross_validation(
    fmt: str,
    raw_dir: Path,
    *,
    predictions: Path,
    folds_csv: Path,
    dataset: str,
    model: str,
    density: float,
    options: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate ``predictions/{case}_{phase}.nii.gz`` of every test case (ED and ES) of the folds.

    References come from ``dmr.datasets.read_dataset(fmt, raw_dir, options=options)``; the
    structures evaluated are those the dataset annotates (``dmr.datasets.dataset_structures``;
    LVSC: myocardium only). Slices are indexed along z of
    the original volume and assigned apical/mid/basal from the reference
    (:func:`dmr.preprocess.regions.slice_regions`). Missing prediction files are one InputError
    listing them all; test cases absent from the dataset are a DatasetError.
    """
    if fmt not in datasets.FORMATS:
        raise InputError(f"unknown dataset format {fmt!r}; expected one of {datasets.FORMATS}")
    arch, variant = parse_model_name(model)
    structures = datasets.dataset_structures(fmt, options)
    predictions = Path(predictions)
    assignments = read_test_assignments(folds_csv)

    cases = {case.case_id: case for case in datasets.read_dataset(fmt, raw_dir, options=options)}
    unknown = sorted(set(assignments["case"]) - set(cases))
    if unknown:
        raise DatasetError(
            f"{raw_dir}: {len(unknown)} test case(s) of {folds_csv} not in the dataset: {unknown}"
        )
    expected = [
        predictions / f"{case}_{phase}.nii.gz" for case in assignments["case"] for phase in PHASES
    ]
    missing = [str(p) for p in expected if not p.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(expected)} prediction file(s) missing in {predictions}: "
            + ", ".join(missing)
        )

    metric_rows: list[dict[str, object]] = []
    slice_rows: list[dict[str, object]] = []
    for row in tqdm(
        assignments.itertuples(index=False), total=len(assignments), desc="metrics", unit="case"
    ):
        case = cases[row.case]
        ids = {
            "dataset": dataset,
            "model": model,
            "arch": arch,
            "variant": variant,
            "fold": int(row.fold),
            "case": row.case,
            "group": row.group,
        }
        for phase in PHASES:
            pred_path = predictions / f"{row.case}_{phase}.nii.gz"
            reference_name = f"{case.path} ({phase} reference)"
            gt, pred, rows = evaluate_volume(
                _phase_reference(case, phase),
                read_label_map(pred_path),
                structures,
                reference_name=reference_name,
                prediction_name=pred_path,
            )
            metric_rows.extend({**ids, "phase": phase, **r} for r in rows)
            try:
                regions = slice_regions(gt)
            except ValueError as exc:
                raise DatasetError(f"{reference_name}: {exc}") from exc
            for structure in structures:
                for s in slice_confusion(gt, pred, STRUCTURE_LABELS[structure]):
                    slice_rows.append(
                        {
                            **ids,
                            "phase": phase,
                            "structure": structure,
                            "region": regions[int(s["slice"])],
                            **s,
                        }
                    )
        log.debug("evaluated %s (fold %d)", row.case, row.fold)

    metrics = pd.DataFrame(
        metric_rows, columns=[*ID_COLUMNS, "phase", "structure", *METRIC_COLUMNS]
    )
    slices = pd.DataFrame(slice_rows, columns=[*ID_COLUMNS, *SLICE_COLUMNS])
    return EvaluationResult(
        metrics=metrics, slices=slices, clinical=clinical_table(metrics, density)
    )


def clinical_table(metrics: pd.DataFrame, density: float) -> pd.DataFrame:
    """Clinical indices of every case with the identifying columns of the metric table."""
    indices = clinical_indices(metrics, density=density)
    ids = metrics[list(ID_COLUMNS)].drop_duplicates("case")
    table = ids.merge(indices, on="case", how="inner", validate="one_to_many")
    return table[[*ID_COLUMNS, "quantity", "reference", "prediction"]].reset_index(drop=True)
