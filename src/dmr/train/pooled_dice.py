"""The validation Dice that picks the best epoch: pooled over all pixels from confusion counts,
so that a whole pass costs one small (C, C) sum per batch."""

from __future__ import annotations

import torch


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
