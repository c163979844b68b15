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

from dmr.train.config import HISTORY_COLUMNS, RESUMABLE_CHANGES, TrainConfig
from dmr.train.devices import device_label, resolve_device, seed_everything
from dmr.train.loop import train
from dmr.train.pooled_dice import confusion_matrix, mean_foreground_dice
from dmr.train.state import FORMAT_VERSION
from dmr.train.steps import build_optimizer, evaluate, train_one_epoch, train_step

__all__ = [
    "FORMAT_VERSION",
    "HISTORY_COLUMNS",
    "RESUMABLE_CHANGES",
    "TrainConfig",
    "build_optimizer",
    "confusion_matrix",
    "device_label",
    "evaluate",
    "mean_foreground_dice",
    "resolve_device",
    "seed_everything",
    "train",
    "train_one_epoch",
    "train_step",
]
