"""Training of one model on one fold (paper II.F), resumable after every epoch.

Paper settings: RMSprop, lr decayed by ``lr_decay`` (0.99) after every epoch, batch size 15, the
weights with the best mean validation Dice kept. Randomness of epoch ``e`` (shuffle, any dropout)
is re-seeded from ``(seed, e)`` at the start of the epoch, so a run resumed from the checkpoint
of epoch ``e - 1`` continues exactly as the uninterrupted run would (on CPU).

The training stage package holds one training's whole configuration and data path. The loop:
``config`` (``TrainConfig``, the history's columns), ``devices`` (device and seeds), ``steps`` (one
train step, one eval pass, one epoch), ``pooled_dice`` (the validation Dice), ``state`` (resume
checkpoint and output bundles) and ``loop`` (``train``). What it trains with: ``losses`` (CE and
Eq. 7), ``data`` (a fold's slices), ``batches`` and ``residency`` (how those slices reach the
network), ``precision`` (fp32 or autocast), ``allocator`` (glibc malloc reuse), ``batchnorm``
(population statistics before validation). What it leaves behind: ``checkpoint`` (the ``.pt``
files) and ``history`` (``history.csv`` read back). Inference imports ``checkpoint``,
``precision`` and ``allocator`` from here: a model is loaded and run as it was trained.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the submodule that defines it. Loaded on first use (PEP 562), so that the
#: tables, figures and report, which only read ``dmr.train.history``, do not import PyTorch: a
#: Snakemake job pays each import in its own process (torch alone is 1-2 s of a job's start).
_EXPORTS = {
    "FORMAT_VERSION": "state",
    "HISTORY_COLUMNS": "config",
    "RESUMABLE_CHANGES": "config",
    "TrainConfig": "config",
    "build_optimizer": "steps",
    "confusion_matrix": "pooled_dice",
    "device_label": "devices",
    "evaluate": "steps",
    "mean_foreground_dice": "pooled_dice",
    "resolve_device": "devices",
    "seed_everything": "devices",
    "train": "loop",
    "train_one_epoch": "steps",
    "train_step": "steps",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
