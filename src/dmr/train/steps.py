"""One optimiser step, one no-grad evaluation pass and one training epoch (paper II.F): the
pieces ``dmr.train.loop`` repeats, free functions so that tests and benchmarks run them alone."""

from __future__ import annotations

import itertools
import math
import sys
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from dmr.models import network_input
from dmr.train.batches import Batch, BatchFeeder
from dmr.train.data import SliceDataset, iterate_batches
from dmr.train.pooled_dice import confusion_matrix, mean_foreground_dice


def build_optimizer(
    model: nn.Module, loss_fn: nn.Module, lr: float, sigma_lr_scale: float = 1.0
) -> torch.optim.Optimizer:
    """The paper's RMSprop over the network's and the loss's (learned sigmas) parameters.

    The loss's s = log sigma get their own parameter group at ``lr * sigma_lr_scale``. With
    RMSprop each s moves by about its learning rate per step, so a run of a few hundred steps
    cannot bring sigma to its equilibrium (sigma = the task's loss, Eq. 7) that the paper's tens
    of thousands of steps reach early; ``sigma_lr_scale`` rescales time for the two s's only
    (docs/miniature.md). 1 is the paper's setting: one learning rate for everything.

    foreach: one multi-tensor kernel per update term instead of a Python loop over the 78-120
    parameter tensors (torch defaults to it on CUDA only). The same weights to the last bit; on
    the default's CPU networks the update takes 0.9-1.5 ms of a 25-42 ms step instead of 1.5-2.3.
    The benchmarks build their optimiser here too, so that they time what training runs.
    """
    if not sigma_lr_scale > 0:
        raise ValueError(f"sigma_lr_scale must be positive, got {sigma_lr_scale}")
    groups: list[dict[str, Any]] = [{"params": list(model.parameters()), "lr": lr}]
    sigmas = list(loss_fn.parameters())
    if sigmas:
        groups.append({"params": sigmas, "lr": lr * sigma_lr_scale})
    return torch.optim.RMSprop(groups, lr=lr, foreach=True)


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


def epoch_batches(
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
    max_batches: int | None = None,
) -> dict[str, float]:
    """No-grad pass over ``dataset`` (its first ``max_batches`` batches when given): mean loss
    and distance-map MAD per slice (NaN for base models), pooled mean foreground Dice (and its
    Dice loss, 1 - Dice, for Fig. S4), the loss module's current sigmas/weights and the number
    of batches seen."""
    model.eval()
    loss_fn.eval()
    sums, confusion, last = _Sums(("val_loss", "val_mad"), device), None, None
    batches = epoch_batches(dataset, batch_size, shuffle=False, seed=0, epoch=0)
    n_batches = 0
    for batch in itertools.islice(batches, max_batches):
        n_batches += 1
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
        "val_batches": n_batches,
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
    max_steps: int | None = None,
) -> dict[str, float]:
    """Train steps over a shuffled pass of ``dataset`` (stopped after ``max_steps`` when
    given); returns per-slice mean losses, the Dice loss (1 - pooled mean foreground Dice) of
    the training batches' predictions, the quantity the paper plots in Fig. S4 because
    cross-entropy is hard to read, and the number of steps taken."""
    model.train()
    loss_fn.train()
    sums = _Sums(("train_loss", "train_ce", "train_mad"), device)
    confusion = None
    n_batches = math.ceil(len(dataset) / batch_size)
    if max_steps is not None:
        n_batches = min(n_batches, max_steps)
    batches = itertools.islice(
        epoch_batches(dataset, batch_size, shuffle=True, seed=seed, epoch=epoch), n_batches
    )
    steps = 0
    for batch in tqdm(batches, total=n_batches, desc=description, file=sys.stderr, leave=False):
        steps += 1
        result, counts = train_step(model, loss_fn, optimizer, batch, device, amp_dtype, scaler)
        sums.add(len(batch[0]), train_loss=result.total, train_ce=result.ce, train_mad=result.mad)
        confusion = counts if confusion is None else confusion + counts
    return sums.means() | {
        "train_dice_loss": 1.0 - mean_foreground_dice(confusion),
        "train_steps": steps,
    }
