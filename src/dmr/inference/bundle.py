"""Inference bundles (``model.pt``): loading, validating and ensembling them.

A bundle carries the network's config and weights plus everything inference must repeat from
training: the preprocessing parameters, the GLOBAL label values of its classes and the precision
it trained in. Everything is checked when the bundle is loaded, so a wrong file fails before the
first volume is read, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dmr.errors import InputError
from dmr.models import ModelConfig, build_model_from_config
from dmr.preprocess import PreprocessParams
from dmr.train.checkpoint import load_checkpoint
from dmr.train.precision import (
    TRAINED,
    Precision,
    parse_inference_amp,
    resolve_precision,
    trained_precision,
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


def build_network(bundle: dict[str, Any], path: Path, device: torch.device) -> nn.Module:
    """The network a bundle or checkpoint describes, with its weights, on ``device`` in eval
    mode; a config/weights mismatch is an InputError naming ``path``."""
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
        network=build_network(bundle, path, device),
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


def model_precision(model: LoadedModel) -> Precision:
    """The precision ``model`` trained in, on the device its network sits on."""
    device = next(model.network.parameters()).device
    return trained_precision(model.precision, device)


def inference_precision(device: torch.device, amp: str | bool) -> Precision | None:
    """``amp`` of inference resolved on ``device``; None for ``trained`` (per model)."""
    amp = parse_inference_amp(amp)
    return None if amp == TRAINED else resolve_precision(device, amp)
