"""The training loop of one model on one fold (paper II.F), resumable after every epoch.

``train(cfg)`` reads top to bottom: setup, model + loss + optimiser, resumption, epochs of train
steps and a no-grad validation pass, then the outputs.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from dmr.errors import DmrError
from dmr.io import write_csv
from dmr.models import build_model, enable_activation_checkpointing
from dmr.train.batches import BatchFeeder, build_feeders
from dmr.train.batchnorm import refresh_batchnorm_statistics
from dmr.train.checkpoint import load_checkpoint, save_checkpoint
from dmr.train.config import HISTORY_COLUMNS, TrainConfig
from dmr.train.data import SliceDataset, build_datasets, epoch_seed
from dmr.train.devices import device_label, resolve_device, seed_everything
from dmr.train.history import sigma_ratios
from dmr.train.losses import build_loss
from dmr.train.precision import resolve_precision
from dmr.train.state import (
    check_resumable,
    cpu_state,
    output_bundle,
    restore_train_state,
    train_state,
)
from dmr.train.steps import build_optimizer, epoch_batches, evaluate, train_one_epoch

log = logging.getLogger(__name__)


def train(cfg: TrainConfig) -> None:
    """Train ``cfg.arch`` on fold ``cfg.fold``; write model.pt, checkpoint.pt and history.csv."""
    if cfg.epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {cfg.epochs}")

    # -- setup
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    precision = resolve_precision(device, cfg.amp)
    amp_dtype = precision.dtype
    seed_everything(cfg.seed)
    train_ds, val_ds, meta = build_datasets(
        cfg.preprocessed,
        cfg.augmented,
        cfg.folds,
        cfg.fold,
        cfg.threshold,
        augmented_copies=cfg.augmented_copies,
    )
    log.info(
        "fold %d: %d train slices, %d val slices, device %s, precision %s (%s)",
        cfg.fold,
        len(train_ds),
        len(val_ds),
        device,
        precision.name,
        precision.reason,
    )

    # -- model, loss, optimiser
    regularized = cfg.loss == "dmr"
    model = build_model(
        cfg.arch, regularized, in_channels=1, num_classes=int(meta["num_classes"]), width=cfg.width
    ).to(device, memory_format=torch.channels_last)
    if cfg.checkpoint_activations:
        log.info("activation checkpointing: %s", ", ".join(enable_activation_checkpointing(model)))
    loss_fn = build_loss(cfg.loss, cfg.weighting).to(device)
    optimizer = build_optimizer(model, loss_fn, cfg.lr, cfg.sigma_lr_scale)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    # -- resume
    last_path = Path(cfg.ckpt_dir) / "last.pt"
    start_epoch = 0
    best: dict[str, Any] = {"epoch": 0, "val_dice": -math.inf, "model": None, "loss": None}
    history: list[dict[str, float]] = []
    if last_path.exists():
        state = load_checkpoint(last_path, kind="train-state")
        check_resumable(state, cfg, precision, last_path)
        if state["epoch"] > cfg.epochs:
            raise DmrError(
                f"{last_path}: {state['epoch']} epochs already trained, more than the "
                f"{cfg.epochs} requested; delete {last_path.parent} to retrain"
            )
        start_epoch, best, history = restore_train_state(
            state,
            model=model,
            loss_fn=loss_fn,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
        )
        log.info("resuming from %s after epoch %d", last_path, start_epoch)

    # -- data: the fold's rows in memory when they fit (dmr.train.batches), else streamed
    train_data: SliceDataset | BatchFeeder = train_ds
    val_data: SliceDataset | BatchFeeder = val_ds
    if start_epoch < cfg.epochs:
        (train_data, val_data), _ = build_feeders(
            [train_ds, val_ds],
            device,
            distances=regularized,
            setting=cfg.data_on_device,
            fraction=cfg.data_memory_fraction,
        )

    # -- epochs
    for epoch in range(start_epoch, cfg.epochs):
        started = time.perf_counter()
        seed_everything(epoch_seed(cfg.seed, epoch))
        lr = optimizer.param_groups[0]["lr"]
        row: dict[str, float] = {"epoch": epoch + 1}
        row |= train_one_epoch(
            model,
            loss_fn,
            optimizer,
            train_data,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            epoch=epoch,
            device=device,
            amp_dtype=amp_dtype,
            scaler=scaler,
            description=f"epoch {epoch + 1}/{cfg.epochs}",
            max_steps=cfg.max_steps_per_epoch,
        )
        row["train_seconds"] = time.perf_counter() - started
        refresh_batchnorm_statistics(
            model,
            epoch_batches(train_data, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch),
            max_slices=cfg.bn_stats_slices,
            device=device,
            amp_dtype=amp_dtype,
        )
        row |= evaluate(
            model,
            loss_fn,
            val_data,
            cfg.batch_size,
            device,
            amp_dtype,
            max_batches=cfg.max_steps_per_epoch,
        )
        row |= sigma_ratios(row, learned=regularized and cfg.weighting == "learned")
        scheduler.step()
        row |= {
            "lr": lr,
            "seconds": time.perf_counter() - started,
            "device": device_label(device),
            "precision": precision.name,
        }
        history.append(row)
        if row["val_dice"] > best["val_dice"]:
            best = {
                "epoch": epoch + 1,
                "val_dice": row["val_dice"],
                "model": cpu_state(model),
                "loss": cpu_state(loss_fn),
            }
        log.info(
            "epoch %d/%d  loss %.4f (ce %.4f mad %.4f)  val loss %.4f dice %.4f mad %.4g  "
            "sigma ce %.3g mad %.3g (x%.2f, x%.2f the train loss)  lr %.3g  %.1f s",
            epoch + 1,
            cfg.epochs,
            row["train_loss"],
            row["train_ce"],
            row["train_mad"],
            row["val_loss"],
            row["val_dice"],
            row["val_mad"],
            row["sigma_ce"],
            row["sigma_mad"],
            row["sigma_ce_ratio"],
            row["sigma_mad_ratio"],
            lr,
            row["seconds"],
        )
        save_checkpoint(
            last_path,
            train_state(
                cfg,
                device=device,
                precision_name=precision.name,
                epoch=epoch + 1,
                model=model,
                loss_fn=loss_fn,
                optimizer=optimizer,
                scheduler=scheduler,
                scaler=scaler,
                best=best,
                history=history,
            ),
        )

    # -- outputs: the best weights, with and without the regularizer
    model.load_state_dict(best["model"])
    loss_fn.load_state_dict(best["loss"])
    output = Path(cfg.output)
    full = output_bundle(cfg, meta, model, best, precision.name) | {
        "kind": "checkpoint",
        "loss_state": best["loss"],
    }
    plain_model = model.without_regularizer() if regularized else model
    plain = output_bundle(cfg, meta, plain_model, best, precision.name) | {"kind": "model"}
    save_checkpoint(output / "checkpoint.pt", full)
    save_checkpoint(output / "model.pt", plain)
    write_csv(output / "history.csv", pd.DataFrame(history, columns=list(HISTORY_COLUMNS)))
    log.info("best val dice %.4f at epoch %d; wrote %s", best["val_dice"], best["epoch"], output)
