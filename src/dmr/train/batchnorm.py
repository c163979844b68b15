"""BatchNorm population statistics, recomputed from the current weights before each validation.

Why: in eval mode BatchNorm normalises with running averages that PyTorch updates during
training (momentum 0.1, so they mix the statistics of roughly the last ten steps' weights). When
the weights still move fast, as in the default's short high-learning-rate schedule, those
averages lag behind the weights and eval-mode outputs can collapse although the network itself is
fine. Measured on a DMR-U-Net after its last default epoch: validation MAD 21.2 px with the
running averages, 4.75 px with statistics recomputed from the same weights (Dice 0.90 / 0.92).
Batch normalization as defined (Ioffe & Szegedy 2015, Alg. 2) uses population statistics at
inference; recomputing them is the "precise BN" of Wu & Johnson, "Rethinking 'Batch' in
BatchNorm" (2021). Training is unchanged: in train mode BatchNorm normalises with each batch's
own statistics, so the weights follow the same trajectory; only eval-mode outputs (validation,
model selection, the saved model) change.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from dmr.models import network_input


def refresh_batchnorm_statistics(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, ...]],
    *,
    max_slices: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> int:
    """Replace every BatchNorm's running mean/var by the average over the first batches of
    ``batches`` (at least ``max_slices`` slices), computed with the current weights.

    Uses ``torch.optim.swa_utils.update_bn`` (no-grad; reset, cumulative average, momentum
    restored; it returns before reading a batch when the model has no BatchNorm). Runs under the
    training's autocast so the statistics match what eval mode will see. Returns the number of
    slices used (0 when ``max_slices`` is 0 or the model has no BatchNorm: nothing changes).
    """
    if max_slices <= 0:
        return 0
    used = 0

    def images():
        nonlocal used
        for batch in batches:
            used += len(batch[0])
            yield network_input(batch[0], device)
            if used >= max_slices:  # stop before reading the next batch
                return

    autocast = (
        torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    )
    with autocast:
        update_bn(images(), model)
    return used
