"""``dmr train``: one model on one fold."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import (
    ARCHS,
    SWITCH_CHOICES,
    add_amp,
    add_reuse_freed_memory,
    apply_reuse_freed_memory,
)

#: dmr.train.batches.DEFAULT_MEMORY_FRACTION (not imported: the parser must not import torch).
DEFAULT_MEMORY_FRACTION = 0.5


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one model on one fold")
    p.add_argument("--preprocessed", required=True, type=Path)
    p.add_argument("--augmented", type=Path, help="output of `dmr augment` (optional)")
    p.add_argument(
        "--augmented-copies",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N augmented copies of each slice (default: all that "
        "--augmented holds)",
    )
    p.add_argument("--folds", required=True, type=Path, help="folds.csv")
    p.add_argument("--fold", required=True, type=int)
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--model-name", required=True, help="name recorded in outputs, e.g. unet-dmr")
    p.add_argument("--loss", choices=("ce", "dmr"), default="ce", help="(%(default)s)")
    p.add_argument(
        "--weighting",
        choices=("learned", "fixed"),
        default="learned",
        help="task weighting of the dmr loss (%(default)s)",
    )
    p.add_argument("--threshold", type=float, default=250.0, help="distance map T in pixels")
    p.add_argument("--width", type=int, default=32, help="channels of the first level")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=15)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-decay", type=float, default=0.99, help="per-epoch lr factor")
    p.add_argument(
        "--sigma-lr-scale",
        type=float,
        default=1.0,
        help="learning rate of the dmr loss's learned log-sigmas, as a multiple of --lr; 1 is "
        "the paper's (%(default)s)",
    )
    p.add_argument(
        "--max-steps-per-epoch",
        type=int,
        default=None,
        metavar="N",
        help="stop each epoch after N optimiser steps and validate on at most N batches, to "
        "rehearse a grid at its real sizes in minutes (default: whole epochs)",
    )
    p.add_argument(
        "--bn-stats-slices",
        type=int,
        default=0,
        help="before each validation, recompute BatchNorm statistics from the current weights "
        "over this many training slices; 0 keeps PyTorch's running averages (%(default)s)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (%(default)s)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (%(default)s)")
    add_amp(p)
    p.add_argument(
        "--data-on-device",
        choices=SWITCH_CHOICES,
        default="auto",
        help="hold the fold's slice arrays in the device's memory (GPU memory, or RAM on a "
        "CPU): auto = when they fit in --data-memory-fraction of it (else RAM, else streamed "
        "from disk); false = RAM with CUDA, disk on a CPU (%(default)s)",
    )
    p.add_argument(
        "--data-memory-fraction",
        type=float,
        default=DEFAULT_MEMORY_FRACTION,
        help="share of the available memory the slice arrays may take (%(default)s)",
    )
    p.add_argument(
        "--checkpoint-activations",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="recompute full-resolution blocks in the backward pass: ~half the activation "
        "memory, same results (%(default)s)",
    )
    add_reuse_freed_memory(p)
    p.add_argument(
        "--ckpt-dir", required=True, type=Path, help="per-epoch resume checkpoints (kept)"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="model folder to write")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from dmr.train import TrainConfig, train

    apply_reuse_freed_memory(args)
    cfg = TrainConfig(
        preprocessed=args.preprocessed,
        augmented=args.augmented,
        augmented_copies=args.augmented_copies,
        folds=args.folds,
        fold=args.fold,
        arch=args.arch,
        model_name=args.model_name,
        loss=args.loss,
        weighting=args.weighting,
        threshold=args.threshold,
        width=args.width,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_decay=args.lr_decay,
        sigma_lr_scale=args.sigma_lr_scale,
        max_steps_per_epoch=args.max_steps_per_epoch,
        bn_stats_slices=args.bn_stats_slices,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        amp=args.amp,
        checkpoint_activations=args.checkpoint_activations,
        data_on_device=args.data_on_device,
        data_memory_fraction=args.data_memory_fraction,
        ckpt_dir=args.ckpt_dir,
        output=args.output,
    )
    train(cfg)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_train(sub)
