"""What survives a killed training: the train-state checkpoint (``last.pt``) that resumes it
bit for bit, and the bundles (``model.pt``, ``checkpoint.pt``) a finished one leaves
(docs/formats.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dmr.errors import DmrError
from dmr.train.config import RESUMABLE_CHANGES, TrainConfig
from dmr.train.precision import Precision, legacy_precision

FORMAT_VERSION = 1


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``module``'s state: the best epoch's weights must not change with training."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


def numpy_rng_state() -> dict[str, Any]:
    """numpy's global RNG state as tensors and primitives, loadable with ``weights_only``."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def set_numpy_rng_state(state: dict[str, Any]) -> None:
    np.random.set_state(  # noqa: NPY002
        (
            state["name"],
            state["keys"].numpy().astype(np.uint32),
            state["pos"],
            state["has_gauss"],
            state["cached_gaussian"],
        )
    )


def saved_precision(state: dict[str, Any]) -> str:
    """The precision a train-state checkpoint trained in (older ones: from its amp flag)."""
    if "precision" in state:
        return str(state["precision"])
    return legacy_precision(state.get("device", "cpu"), bool(state["config"].get("amp")))


def check_resumable(
    state: dict[str, Any], cfg: TrainConfig, precision: Precision, path: Path
) -> None:
    """A resumed run must continue exactly the saved one: same config where it matters (a field
    absent from an older checkpoint counts as its default) and the same precision."""
    saved, current = state["config"], cfg.to_dict()
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(TrainConfig)
        if f.default is not dataclasses.MISSING
    }
    differing = {
        k: (saved.get(k, defaults.get(k)), current.get(k))
        for k in sorted(set(saved) | set(current))
        if k not in RESUMABLE_CHANGES and saved.get(k, defaults.get(k)) != current.get(k)
    }
    if saved_precision(state) != precision.name:
        differing["precision"] = (saved_precision(state), precision.name)
    if differing:
        details = ", ".join(f"{k}: {a!r} → {b!r}" for k, (a, b) in differing.items())
        raise DmrError(
            f"{path}: resume checkpoint was written with a different config ({details}); "
            f"delete {path.parent} to start this training afresh"
        )


def output_bundle(
    cfg: TrainConfig,
    meta: dict[str, Any],
    model: nn.Module,
    best: dict[str, Any],
    precision_name: str,
) -> dict[str, Any]:
    """The self-describing keys shared by ``model.pt`` and ``checkpoint.pt`` (docs/formats.md)."""
    return {
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": cpu_state(model),
        "preprocess": {
            "spacing": float(meta["spacing"]),
            "size": int(meta["size"]),
            "clip_percentile": float(meta["clip_percentile"]),
        },
        "structures": list(meta["structures"]),
        "label_values": [int(v) for v in meta["label_values"]],
        "model_name": cfg.model_name,
        "dataset": str(meta.get("dataset", meta["format"])),
        "fold": int(cfg.fold),
        "best_epoch": int(best["epoch"]),
        "best_val_dice": float(best["val_dice"]),
        "train_config": cfg.to_dict(),
        "precision": precision_name,
    }


def train_state(
    cfg: TrainConfig,
    *,
    device: torch.device,
    precision_name: str,
    epoch: int,
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    best: dict[str, Any],
    history: list[dict[str, float]],
) -> dict[str, Any]:
    """``last.pt`` after ``epoch`` epochs: everything the next epoch reads, RNG states included."""
    return {
        "kind": "train-state",
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "device": str(device),
        "precision": precision_name,
        "epoch": epoch,
        "model": cpu_state(model),
        "loss": cpu_state(loss_fn),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": numpy_rng_state(),
        "best": best,
        "history": history,
    }


def restore_train_state(
    state: dict[str, Any],
    *,
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
) -> tuple[int, dict[str, Any], list[dict[str, float]]]:
    """Load a ``train_state`` into the run's objects and RNGs; returns the epochs done, the best
    epoch so far and the history."""
    model.load_state_dict(state["model"])
    loss_fn.load_state_dict(state["loss"])
    try:
        optimizer.load_state_dict(state["optimizer"])
    except ValueError as exc:  # e.g. written before the sigmas had their own parameter group
        raise DmrError(
            f"the resume checkpoint's optimiser state does not fit this version's optimiser "
            f"({exc}); delete the checkpoint folder to start this training afresh"
        ) from exc
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["torch_rng"])
    set_numpy_rng_state(state["numpy_rng"])
    history = state["history"]
    for row in history:  # rows of a checkpoint from before the precision column
        row.setdefault("precision", saved_precision(state))
    return state["epoch"], state["best"], history
