"""What one training run depends on (``TrainConfig``) and what its ``history.csv`` holds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmr.errors import DmrError
from dmr.switch import parse_switch
from dmr.train.precision import parse_amp
from dmr.train.residency import DEFAULT_MEMORY_FRACTION

HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    "train_loss",
    "train_ce",
    "train_mad",
    "train_dice_loss",
    "val_loss",
    "val_dice",
    "val_dice_loss",
    "val_mad",
    "sigma_ce",
    "sigma_mad",
    "weight_ce",
    "weight_mad",
    "sigma_ce_ratio",
    "sigma_mad_ratio",
    "lr",
    "seconds",
    "train_seconds",
    "train_steps",
    "val_batches",
    "device",
    "precision",
)
#: History columns that measure time: they differ between two runs of the same training.
TIMING_COLUMNS: tuple[str, ...] = ("seconds", "train_seconds")
#: Config fields that may change between a run and its resumption: training can be extended;
#: activation checkpointing and where the slice arrays live change memory use and speed, not
#: results. ``amp`` is compared through the precision it resolves to (``_check_resumable``).
RESUMABLE_CHANGES: frozenset[str] = frozenset(
    {"epochs", "checkpoint_activations", "data_on_device", "data_memory_fraction", "amp"}
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on, built by ``dmr train`` from its options."""

    preprocessed: Path
    augmented: Path | None
    folds: Path
    fold: int
    arch: str
    model_name: str
    loss: str
    weighting: str
    threshold: float
    width: int
    epochs: int
    batch_size: int
    lr: float
    lr_decay: float
    seed: int
    device: str
    threads: int
    #: ``auto``, ``true`` or ``false`` (booleans accepted): see ``dmr.train.precision``.
    amp: str | bool
    ckpt_dir: Path
    output: Path
    #: Recompute full-resolution blocks in the backward pass (same numbers, less memory).
    checkpoint_activations: bool = False
    #: Where the slice arrays live: ``auto``, ``true`` or ``false`` (see ``dmr.train.residency``).
    data_on_device: str | bool = "auto"
    #: Share of the available (device or host) memory the slice arrays may take.
    data_memory_fraction: float = DEFAULT_MEMORY_FRACTION
    #: Training slices over which BatchNorm statistics are recomputed before each validation
    #: (``dmr.train.batchnorm``); 0 keeps PyTorch's running averages.
    bn_stats_slices: int = 0
    #: Learning rate of the DMR loss's s = log sigma relative to ``lr`` (1: the paper's; see
    #: ``dmr.train.steps.build_optimizer``).
    sigma_lr_scale: float = 1.0
    #: Stop each epoch after this many optimiser steps and validate on at most this many
    #: batches (None: whole epochs). For rehearsing a grid's code paths at its real sizes in
    #: minutes; nothing else of the recipe changes.
    max_steps_per_epoch: int | None = None
    #: Train on the first N augmented copies of each slice (None: all that ``augmented`` holds),
    #: so that architectures of one dataset can see different epoch lengths from one
    #: ``dmr augment`` output (copy k is the same whether 1 or 4 copies were written).
    augmented_copies: int | None = None

    def __post_init__(self) -> None:
        # Checked here, before any data is read: torch rejects a bad lr only when it builds the
        # optimiser, in a traceback that names no option, and 0 epochs or batches train nothing.
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise DmrError(
                    f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}"
                )
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise DmrError(
                f"--max-steps-per-epoch must be at least 1, got {self.max_steps_per_epoch}"
            )
        if self.augmented_copies is not None and self.augmented_copies < 0:
            raise DmrError(f"--augmented-copies must be >= 0, got {self.augmented_copies}")
        if self.bn_stats_slices < 0:
            raise DmrError(f"--bn-stats-slices must be >= 0, got {self.bn_stats_slices}")
        if not self.lr > 0:
            raise DmrError(f"--lr must be positive, got {self.lr}")
        if not self.sigma_lr_scale > 0:
            raise DmrError(f"--sigma-lr-scale must be positive, got {self.sigma_lr_scale}")
        if not 0 < self.lr_decay <= 1:
            raise DmrError(f"--lr-decay must be in (0, 1], got {self.lr_decay}")
        object.__setattr__(self, "amp", parse_amp(self.amp))
        object.__setattr__(
            self, "data_on_device", parse_switch(self.data_on_device, "data_on_device")
        )

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (paths as strings), for checkpoints loaded with ``weights_only``."""
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }
