"""One predictor for cross-validation and for users' own images (paper II.F).

A volume is preprocessed exactly as the training slices were (the bundle's ``preprocess``
params), segmented slice by slice, mapped from class indices to the GLOBAL label values of the
bundle (an LVSC model's class 1 is label 2), combined across ensemble members by a per-pixel
majority vote on the network grid (tie: lowest label wins, see ``dmr.inference.postprocess``),
resampled back onto the original grid and cleaned to the largest 3-D connected component per
structure.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch
from torch import nn
from tqdm import tqdm

from dmr.errors import DatasetError, InputError
from dmr.inference.postprocess import largest_component_per_label, majority_vote
from dmr.io import atomic_dir, write_csv, write_image
from dmr.models import ModelConfig, build_model_from_config, network_input
from dmr.preprocess import PreprocessParams, SliceGeometry, preprocess_volume, restore_labels
from dmr.preprocess.folds import read_folds
from dmr.train import resolve_device
from dmr.train.checkpoint import load_checkpoint
from dmr.train.precision import (
    FP32,
    TRAINED,
    Precision,
    parse_inference_amp,
    resolve_precision,
    trained_precision,
)

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
BUNDLE_KEYS: tuple[str, ...] = (
    "model_config",
    "state_dict",
    "preprocess",
    "structures",
    "label_values",
    "model_name",
    "dataset",
    "fold",
)

#: Names ``dmr predict`` may write its label map to: 3-D formats that keep the image's geometry
#: (origin, spacing, direction) in ONE file. 2-D formats (.png, .jpg) would silently keep slice 0;
#: a detached header (.mhd, .nhdr, .hdr) would point at the temporary data file of dmr.io's atomic
#: write; an unknown suffix fails in SimpleITK only after the whole inference.
LABEL_MAP_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".mha")


@dataclass
class LoadedModel:
    """A network ready for inference plus what the bundle says about its input and output."""

    path: Path
    network: nn.Module
    preprocess: PreprocessParams
    label_values: list[int]
    structures: list[str]
    model_name: str
    dataset: str
    fold: int
    #: The precision it trained in (``fp32``, ``bf16``, ``fp16``), to apply it the same way.
    precision: str = "fp32"


# --------------------------------------------------------------------------- loading
def resolve_model_paths(paths: list[Path]) -> list[Path]:
    """Expand each path: a ``model.pt`` file, a fold folder holding ``model.pt``, or a model
    folder holding ``fold*/model.pt`` (every fold)."""
    if not paths:
        raise InputError("no model given")
    resolved: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            resolved.append(path)
        elif (path / "model.pt").is_file():
            resolved.append(path / "model.pt")
        elif path.is_dir() and sorted(path.glob("fold*/model.pt")):
            resolved.extend(sorted(path.glob("fold*/model.pt")))
        elif path.is_dir():
            raise InputError(f"{path}: folder holds neither model.pt nor fold*/model.pt")
        else:
            raise InputError(f"{path}: model not found")
    return resolved


def _build_network(bundle: dict[str, Any], path: Path, device: torch.device) -> nn.Module:
    try:
        network = build_model_from_config(ModelConfig.from_dict(dict(bundle["model_config"])))
        network.load_state_dict(bundle["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise InputError(f"{path}: model weights do not match the stored config ({exc})") from exc
    return network.to(device, memory_format=torch.channels_last).eval()


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load one ``model.pt`` (inference bundle) onto ``device``, validating its contents."""
    path = Path(path)
    bundle = load_checkpoint(path, kind="model")
    missing = [k for k in BUNDLE_KEYS if k not in bundle]
    if missing:
        raise InputError(f"{path}: model bundle lacks {missing}")
    device = torch.device(device)
    try:
        params = PreprocessParams(**bundle["preprocess"])
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: invalid preprocess parameters ({exc})") from exc
    precision = str(bundle.get("precision", "fp32"))
    try:  # checked here, not when the first volume is predicted
        trained_precision(precision, device)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return LoadedModel(
        path=path,
        network=_build_network(bundle, path, device),
        preprocess=params,
        label_values=[int(v) for v in bundle["label_values"]],
        structures=list(bundle["structures"]),
        model_name=str(bundle["model_name"]),
        dataset=str(bundle["dataset"]),
        fold=int(bundle["fold"]),
        precision=precision,
    )


def load_models(paths: list[Path], device: torch.device | str = "cpu") -> list[LoadedModel]:
    """Load every model the paths name (see :func:`resolve_model_paths`).

    Raises:
        InputError: a path is missing or not a model bundle, or the members of the ensemble were
            trained on differently preprocessed slices (their votes would not share a grid).
    """
    models = [load_model(p, device) for p in resolve_model_paths(paths)]
    reference = models[0]
    for other in models[1:]:
        if other.preprocess != reference.preprocess:
            raise InputError(
                f"{other.path}: preprocessing {other.preprocess} differs from "
                f"{reference.path} {reference.preprocess}; cannot ensemble them"
            )
    return models


# --------------------------------------------------------------------------- inference
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def forward_volume(
    network: nn.Module, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> torch.Tensor:
    """float32 logits (Z, C, S, S) of the network on the (Z, S, S) slices, batch by batch, in
    ``precision`` (bf16/fp16 autocast, as in training, or float32)."""
    device = next(network.parameters()).device
    autocast = precision.autocast(device)
    outputs = []
    for start in range(0, len(slices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(slices[start : start + batch_size]))
        batch = network_input(batch[:, None], device)
        with autocast if autocast is not None else nullcontext():
            logits = network(batch)
        if isinstance(logits, tuple):  # the regularized network also returns distance maps
            logits = logits[0]
        outputs.append(logits.float())
    return torch.cat(outputs)


def time_forward(
    network: nn.Module, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> float:
    """Milliseconds of :func:`forward_volume` (CUDA synchronised before reading the clock)."""
    device = next(network.parameters()).device
    _sync(device)
    started = time.perf_counter()
    forward_volume(network, slices, batch_size, precision)
    _sync(device)
    return 1000.0 * (time.perf_counter() - started)


def segment_slices(
    model: LoadedModel, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> np.ndarray:
    """uint8 (Z, S, S) GLOBAL label values predicted by one model."""
    logits = forward_volume(model.network, slices, batch_size, precision)
    classes = logits.argmax(dim=1).cpu().numpy()
    return np.asarray(model.label_values, dtype=np.uint8)[classes]


def model_precision(model: LoadedModel) -> Precision:
    """The precision ``model`` trained in, on the device its network sits on."""
    device = next(model.network.parameters()).device
    return trained_precision(model.precision, device)


def inference_precision(device: torch.device, amp: str | bool) -> Precision | None:
    """``amp`` of inference resolved on ``device``; None for ``trained`` (per model)."""
    amp = parse_inference_amp(amp)
    return None if amp == TRAINED else resolve_precision(device, amp)


class Predictor:
    """Segments 3-D short-axis volumes with one model or a majority-voting ensemble."""

    def __init__(
        self,
        models: list[LoadedModel],
        batch_size: int = 16,
        precision: Precision | None = None,
    ) -> None:
        """``precision`` None: each model in the precision it trained in (``amp trained``)."""
        if not models:
            raise ValueError("Predictor needs at least one model")
        self.models = models
        self.batch_size = batch_size
        self.precisions = [precision or model_precision(m) for m in models]
        self.params = models[0].preprocess

    @classmethod
    def from_paths(cls, paths: list[Path], device: str = "auto", amp: str = TRAINED) -> Predictor:
        """Load the models on ``device``; ``amp``: ``trained`` (each model's own precision) or
        auto, true, false as in ``dmr.train.precision``."""
        torch_device = resolve_device(device)
        precision = inference_precision(torch_device, amp)
        predictor = cls(load_models(paths, torch_device), precision=precision)
        log.info(
            "inference on %s, precision %s",
            torch_device,
            ", ".join(sorted({f"{p.name} ({p.reason})" for p in predictor.precisions})),
        )
        return predictor

    def preprocess(self, image: sitk.Image) -> tuple[np.ndarray, SliceGeometry]:
        """Network input (Z, S, S) float32 and the geometry to restore the result."""
        return preprocess_volume(image, self.params)

    def segment(self, slices: np.ndarray) -> np.ndarray:
        """Network-grid labels (Z, S, S): each model's prediction, then the majority vote."""
        return majority_vote(self.votes(slices))

    def votes(self, slices: np.ndarray) -> list[np.ndarray]:
        """Each model's own network-grid labels (Z, S, S), in the order of ``models``."""
        return [
            segment_slices(model, slices, self.batch_size, precision)
            for model, precision in zip(self.models, self.precisions, strict=True)
        ]

    @staticmethod
    def restore(labels: np.ndarray, geometry: SliceGeometry) -> sitk.Image:
        """Back to the original grid, then the largest 3-D component of each structure."""
        restored = restore_labels(labels, geometry)
        cleaned = sitk.GetImageFromArray(
            largest_component_per_label(sitk.GetArrayFromImage(restored))
        )
        cleaned.CopyInformation(restored)
        return cleaned

    def predict_volume(self, image: sitk.Image) -> sitk.Image:
        """uint8 label image (global label values) in the geometry of ``image``."""
        slices, geometry = self.preprocess(image)
        return self.restore(self.segment(slices), geometry)

    def predict_volume_each(self, image: sitk.Image) -> tuple[sitk.Image, list[sitk.Image]]:
        """The ensemble's label image and each model's own, from one pass of every model: the
        single models are what tells whether a difference replicates across trainings."""
        slices, geometry = self.preprocess(image)
        votes = self.votes(slices)
        own = [self.restore(labels, geometry) for labels in votes]
        return self.restore(majority_vote(votes), geometry), own


# --------------------------------------------------------------------------- entry points
def read_volume(path: Path) -> sitk.Image:
    """Read a 3-D scalar image, or raise an InputError that says what is wrong with it."""
    if not path.is_file():
        raise InputError(f"{path}: input image not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read as an image ({str(exc).strip()[:200]})") from exc
    dimension = image.GetDimension()
    if dimension == 4:
        raise InputError(
            f"{path}: is 4-D {image.GetSize()} (a cine series?); give one frame as a 3-D "
            "short-axis stack"
        )
    if dimension != 3:
        raise InputError(
            f"{path}: is {dimension}-D {image.GetSize()}; expected a 3-D short-axis stack"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path}: has {image.GetNumberOfComponentsPerPixel()} components per pixel; "
            "expected a scalar (grey-level) image"
        )
    return image


def _predict_or_explain(predictor: Predictor, image: sitk.Image, path: Path) -> sitk.Image:
    try:
        return predictor.predict_volume(image)
    except ValueError as exc:  # e.g. constant intensities that cannot be normalised
        raise InputError(f"{path}: {exc}") from exc


def check_label_map_path(path: Path) -> None:
    """Refuse an output name the label map cannot be written to, before any model is loaded.

    Raises:
        InputError: naming ``path`` and the accepted suffixes (:data:`LABEL_MAP_SUFFIXES`).
    """
    if not path.name.endswith(LABEL_MAP_SUFFIXES) or path.name in LABEL_MAP_SUFFIXES:
        raise InputError(
            f"{path}: cannot write a 3-D label map under this name; give a file name ending in "
            + ", ".join(LABEL_MAP_SUFFIXES)
        )
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the label map's file name")


def predict_file(
    models: list[Path], input: Path, output: Path, device: str = "auto", amp: str = TRAINED
) -> None:
    """``dmr predict``: segment one 3-D NIfTI with one model or an ensemble; write atomically."""
    input, output = Path(input), Path(output)
    check_label_map_path(output)
    predictor = Predictor.from_paths(list(models), device, amp)
    image = read_volume(input)
    labels = _predict_or_explain(predictor, image, input)
    write_image(output, labels)
    log.info("wrote %s (%d model(s))", output, len(predictor.models))


def _load_regularized(checkpoint: Path, device: torch.device) -> nn.Module | None:
    """The full network of ``checkpoint.pt`` for timing, or None for a base (plain) model."""
    bundle = load_checkpoint(checkpoint, kind="checkpoint")
    if not bundle["model_config"].get("regularized", False):
        return None
    return _build_network(bundle, checkpoint, device)


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
