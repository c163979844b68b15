"""Training of one model on one fold (paper II.F), resumable after every epoch.

``train(cfg)`` reads top to bottom: setup, model + loss + optimiser, epochs of train steps and a
no-grad validation pass, then the outputs. The pieces (device, one train step, one eval pass,
checkpoint save/load) are free functions so they can be tested alone.

Paper settings: RMSprop, lr decayed by ``lr_decay`` (0.99) after every epoch, batch size 15, the
weights with the best mean validation Dice kept. Randomness of epoch ``e`` (shuffle, any dropout)
is re-seeded from ``(seed, e)`` at the start of the epoch, so a run resumed from the checkpoint
of epoch ``e - 1`` continues exactly as the uninterrupted run would (on CPU).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from dmr.batches import Batch, BatchFeeder, build_feeders
from dmr.batchnorm import refresh_batchnorm_statistics
from dmr.checkpoint import load_checkpoint, save_checkpoint
from dmr.data import SliceDataset, build_datasets, epoch_seed, iterate_batches
from dmr.errors import DmrError
from dmr.io import write_csv
from dmr.losses import build_loss
from dmr.models import build_model, enable_activation_checkpointing, network_input
from dmr.precision import Precision, legacy_precision, parse_amp, resolve_precision
from dmr.residency import DEFAULT_MEMORY_FRACTION
from dmr.switch import parse_switch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
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
    "lr",
    "seconds",
    "device",
    "precision",
)
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
    #: ``auto``, ``true`` or ``false`` (booleans accepted): see ``dmr.precision``.
    amp: str | bool
    ckpt_dir: Path
    output: Path
    #: Recompute full-resolution blocks in the backward pass (same numbers, less memory).
    checkpoint_activations: bool = False
    #: Where the slice arrays live: ``auto``, ``true`` or ``false`` (see ``dmr.residency``).
    data_on_device: str | bool = "auto"
    #: Share of the available (device or host) memory the slice arrays may take.
    data_memory_fraction: float = DEFAULT_MEMORY_FRACTION
    #: Training slices over which BatchNorm statistics are recomputed before each validation
    #: (``dmr.batchnorm``); 0 keeps PyTorch's running averages.
    bn_stats_slices: int = 0

    def __post_init__(self) -> None:
        # Checked here, before any data is read: torch rejects a bad lr only when it builds the
        # optimiser, in a traceback that names no option, and 0 epochs or batches train nothing.
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise DmrError(
                    f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}"
                )
        if self.bn_stats_slices < 0:
            raise DmrError(f"--bn-stats-slices must be >= 0, got {self.bn_stats_slices}")
        if not self.lr > 0:
            raise DmrError(f"--lr must be positive, got {self.lr}")
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


# --------------------------------------------------------------------------- setup
def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DmrError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DmrError(f"device {name!r} requested but CUDA is not available")
    return device


def device_label(device: torch.device) -> str:
    """What Table I reports as the training device, e.g. ``cpu`` or ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def build_optimizer(model: nn.Module, loss_fn: nn.Module, lr: float) -> torch.optim.Optimizer:
    """The paper's RMSprop over the network's and the loss's (learned sigmas) parameters.

    foreach: one multi-tensor kernel per update term instead of a Python loop over the 78-120
    parameter tensors (torch defaults to it on CUDA only). The same weights to the last bit; on
    the default's CPU networks the update takes 0.9-1.5 ms of a 25-42 ms step instead of 1.5-2.3.
    The benchmarks build their optimiser here too, so that they time what training runs.
    """
    return torch.optim.RMSprop([*model.parameters(), *loss_fn.parameters()], lr=lr, foreach=True)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and numpy's global generators.

    The project draws its own numbers from explicit generators; numpy's legacy global one is
    seeded (and saved in checkpoints) only for library code that still draws from it.
    """
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002


# --------------------------------------------------------------------------- steps
def _split_outputs(outputs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(outputs, tuple):
        logits, dist_pred = outputs
        return logits.float(), dist_pred.float()
    return outputs.float(), None


def _to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch on ``device`` (a no-op for batches a ``BatchFeeder`` already put there)."""
    images, labels, dists = batch
    images = network_input(images, device)
    labels = labels.to(device, non_blocking=True)
    return images, labels, dists.to(device, non_blocking=True) if dists is not None else None


def _batches(
    data: SliceDataset | BatchFeeder, batch_size: int, *, shuffle: bool, seed: int, epoch: int
):
    """The epoch's batches from a feeder (``dmr train``) or straight from a dataset."""
    if isinstance(data, BatchFeeder):
        return data.batches(batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
    return iterate_batches(data, batch_size, shuffle=shuffle, seed=seed, epoch=epoch)


def _loss_on_batch(
    model: nn.Module,
    loss_fn: nn.Module,
    batch: tuple[torch.Tensor, ...],
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """The batch's ``LossOutput``, its fp32 logits and its labels on ``device``."""
    images, labels, dists = _to_device(batch, device)
    autocast = (
        torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    )
    with autocast:
        outputs = model(images)
    # The loss runs in fp32 outside autocast: the learned log-sigmas and the MAD are small sums.
    logits, dist_pred = _split_outputs(outputs)
    result = loss_fn(logits, labels, dist_pred, dists if dist_pred is not None else None)
    return result, logits, labels


def train_step(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[Any, torch.Tensor]:
    """One optimiser step on one batch; returns the batch's ``LossOutput`` and the confusion
    matrix of its (pre-step) predictions."""
    optimizer.zero_grad(set_to_none=True)
    result, logits, labels = _loss_on_batch(model, loss_fn, batch, device, amp_dtype)
    counts = confusion_matrix(logits.detach(), labels)
    if scaler is not None:  # fp16 needs loss scaling; bf16 and fp32 do not
        scaler.scale(result.total).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        result.total.backward()
        optimizer.step()
    return result, counts


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(C, C) int64 counts of (reference class, predicted class = argmax) over the batch."""
    num_classes = logits.shape[1]
    predicted = logits.argmax(dim=1)
    pairs = labels.flatten() * num_classes + predicted.flatten()
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def mean_foreground_dice(confusion: torch.Tensor) -> float:
    """Mean over foreground classes of the Dice POOLED over all validation pixels.

    Pooling (summing TP/FP/FN over every slice before dividing) weighs each pixel equally and
    keeps empty apical/basal slices in the score through their false positives. A class absent
    from both reference and prediction scores 1 (nothing to find, nothing predicted).
    """
    confusion = confusion.double()
    tp = confusion.diagonal()
    fp = confusion.sum(dim=0) - tp
    fn = confusion.sum(dim=1) - tp
    denominator = 2 * tp + fp + fn
    dice = torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.ones_like(tp))
    return float(dice[1:].mean())


class _Sums:
    """Per-slice sums of loss terms, kept as float64 tensors on the training device.

    Why tensors: reading a GPU scalar with ``float()`` after every step makes the CPU wait for
    the step, so it can no longer queue the next one. The arithmetic is the float64 one a Python
    float sum would do (each term converted exactly, multiplied by the batch size, added in
    order), so the history is the same to the last bit.
    """

    def __init__(self, names: tuple[str, ...], device: torch.device) -> None:
        self.values = {n: torch.zeros((), dtype=torch.float64, device=device) for n in names}
        self.count = 0

    def add(self, size: int, **terms: torch.Tensor) -> None:
        for name, term in terms.items():
            self.values[name] += term.detach().double() * size
        self.count += size

    def means(self) -> dict[str, float]:
        return {name: float(total) / self.count for name, total in self.values.items()}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loss_fn: nn.Module,
    dataset: SliceDataset | BatchFeeder,
    batch_size: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """No-grad pass over ``dataset``: mean loss and distance-map MAD per slice (NaN for base
    models), pooled mean foreground Dice (and its Dice loss, 1 - Dice, for Fig. S4) and the loss
    module's current sigmas/weights."""
    model.eval()
    loss_fn.eval()
    sums, confusion, last = _Sums(("val_loss", "val_mad"), device), None, None
    for batch in _batches(dataset, batch_size, shuffle=False, seed=0, epoch=0):
        last, logits, labels = _loss_on_batch(model, loss_fn, batch, device, amp_dtype)
        sums.add(len(batch[0]), val_loss=last.total, val_mad=last.mad)
        counts = confusion_matrix(logits, labels)
        confusion = counts if confusion is None else confusion + counts
    val_dice = mean_foreground_dice(confusion)
    return sums.means() | {
        "val_dice": val_dice,
        "val_dice_loss": 1.0 - val_dice,
        "sigma_ce": last.sigma_ce,
        "sigma_mad": last.sigma_mad,
        "weight_ce": last.weight_ce,
        "weight_mad": last.weight_mad,
    }


def train_one_epoch(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset: SliceDataset | BatchFeeder,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    description: str = "",
) -> dict[str, float]:
    """Train steps over a shuffled pass of ``dataset``; returns per-slice mean losses and the
    Dice loss (1 - pooled mean foreground Dice) of the training batches' predictions, the
    quantity the paper plots in Fig. S4 because cross-entropy is hard to read."""
    model.train()
    loss_fn.train()
    sums = _Sums(("train_loss", "train_ce", "train_mad"), device)
    confusion = None
    n_batches = math.ceil(len(dataset) / batch_size)
    batches = _batches(dataset, batch_size, shuffle=True, seed=seed, epoch=epoch)
    for batch in tqdm(batches, total=n_batches, desc=description, file=sys.stderr, leave=False):
        result, counts = train_step(model, loss_fn, optimizer, batch, device, amp_dtype, scaler)
        sums.add(len(batch[0]), train_loss=result.total, train_ce=result.ce, train_mad=result.mad)
        confusion = counts if confusion is None else confusion + counts
    return sums.means() | {"train_dice_loss": 1.0 - mean_foreground_dice(confusion)}


# --------------------------------------------------------------------------- state
def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_rng_state(state: dict[str, Any]) -> None:
    np.random.set_state(  # noqa: NPY002
        (
            state["name"],
            state["keys"].numpy().astype(np.uint32),
            state["pos"],
            state["has_gauss"],
            state["cached_gaussian"],
        )
    )


def _saved_precision(state: dict[str, Any]) -> str:
    """The precision a train-state checkpoint trained in (older ones: from its amp flag)."""
    if "precision" in state:
        return str(state["precision"])
    return legacy_precision(state.get("device", "cpu"), bool(state["config"].get("amp")))


def _check_resumable(
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
    if _saved_precision(state) != precision.name:
        differing["precision"] = (_saved_precision(state), precision.name)
    if differing:
        details = ", ".join(f"{k}: {a!r} → {b!r}" for k, (a, b) in differing.items())
        raise DmrError(
            f"{path}: resume checkpoint was written with a different config ({details}); "
            f"delete {path.parent} to start this training afresh"
        )


def _bundle(
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
        "state_dict": _cpu_state(model),
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


# --------------------------------------------------------------------------- the loop
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
        cfg.preprocessed, cfg.augmented, cfg.folds, cfg.fold, cfg.threshold
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
    optimizer = build_optimizer(model, loss_fn, cfg.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    # -- resume
    last_path = Path(cfg.ckpt_dir) / "last.pt"
    start_epoch = 0
    best: dict[str, Any] = {"epoch": 0, "val_dice": -math.inf, "model": None, "loss": None}
    history: list[dict[str, float]] = []
    if last_path.exists():
        state = load_checkpoint(last_path, kind="train-state")
        _check_resumable(state, cfg, precision, last_path)
        if state["epoch"] > cfg.epochs:
            raise DmrError(
                f"{last_path}: {state['epoch']} epochs already trained, more than the "
                f"{cfg.epochs} requested; delete {last_path.parent} to retrain"
            )
        model.load_state_dict(state["model"])
        loss_fn.load_state_dict(state["loss"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        _set_numpy_rng_state(state["numpy_rng"])
        start_epoch, best, history = state["epoch"], state["best"], state["history"]
        for row in history:  # rows of a checkpoint from before the precision column
            row.setdefault("precision", _saved_precision(state))
        log.info("resuming from %s after epoch %d", last_path, start_epoch)

    # -- data: the fold's rows in memory when they fit (dmr.batches), else streamed
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
        )
        refresh_batchnorm_statistics(
            model,
            _batches(train_data, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch),
            max_slices=cfg.bn_stats_slices,
            device=device,
            amp_dtype=amp_dtype,
        )
        row |= evaluate(model, loss_fn, val_data, cfg.batch_size, device, amp_dtype)
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
                "model": _cpu_state(model),
                "loss": _cpu_state(loss_fn),
            }
        log.info(
            "epoch %d/%d  loss %.4f (ce %.4f mad %.4f)  val loss %.4f dice %.4f mad %.4g  "
            "sigma ce %.3g mad %.3g  lr %.3g  %.1f s",
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
            lr,
            row["seconds"],
        )
        save_checkpoint(
            last_path,
            {
                "kind": "train-state",
                "format_version": FORMAT_VERSION,
                "config": cfg.to_dict(),
                "device": str(device),
                "precision": precision.name,
                "epoch": epoch + 1,
                "model": _cpu_state(model),
                "loss": _cpu_state(loss_fn),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else {},
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": _numpy_rng_state(),
                "best": best,
                "history": history,
            },
        )

    # -- outputs: the best weights, with and without the regularizer
    model.load_state_dict(best["model"])
    loss_fn.load_state_dict(best["loss"])
    output = Path(cfg.output)
    full = _bundle(cfg, meta, model, best, precision.name) | {
        "kind": "checkpoint",
        "loss_state": best["loss"],
    }
    plain_model = model.without_regularizer() if regularized else model
    plain = _bundle(cfg, meta, plain_model, best, precision.name) | {"kind": "model"}
    save_checkpoint(output / "checkpoint.pt", full)
    save_checkpoint(output / "model.pt", plain)
    write_csv(output / "history.csv", pd.DataFrame(history, columns=list(HISTORY_COLUMNS)))
    log.info("best val dice %.4f at epoch %d; wrote %s", best["val_dice"], best["epoch"], output)
