"""Training losses: cross-entropy, and the DMR multi-task loss of the paper's Eq. 7.

Eq. 7 (after Kendall et al.) weighs each task by its learned uncertainty:

    L = L_MAD / sigma_1 + L_CE / sigma_2 + log sigma_1 + log sigma_2,  sigma = exp(s),

with s = log sigma learned (the paper's "predict the log variance ... for numerical stability").
s starts at 0, so both task weights start at 1.0 (paper II.F). The ``fixed`` weighting is the
Fig. 6 ablation: L = L_MAD + L_CE with no learned parameters.

The learned s's are parameters of the loss module: the trainer adds ``loss_fn.parameters()`` to
the optimiser and saves ``loss_fn.state_dict()`` in checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSSES = ("ce", "dmr")
WEIGHTINGS = ("learned", "fixed")


@dataclass(frozen=True)
class LossOutput:
    """One evaluation of a loss.

    ``total`` is the scalar to back-propagate. The other tensors are detached 0-d tensors; the
    float views (``ce_value``, ``sigma_ce``, ...) read them only when asked, so a training step on
    a GPU does not have to synchronise unless it logs.

    Attributes:
        total: scalar loss with grad.
        ce: detached cross-entropy.
        mad: detached mean absolute difference of the distance maps (nan for the ``ce`` loss).
        log_sigma_ce, log_sigma_mad: detached s = log sigma of each task (0 when not learned).
    """

    total: Tensor
    ce: Tensor
    mad: Tensor
    log_sigma_ce: Tensor
    log_sigma_mad: Tensor

    @property
    def sigma_ce(self) -> float:
        return math.exp(float(self.log_sigma_ce))

    @property
    def sigma_mad(self) -> float:
        return math.exp(float(self.log_sigma_mad))

    @property
    def weight_ce(self) -> float:
        """Multiplier of the CE term in ``total`` (1/sigma_2)."""
        return math.exp(-float(self.log_sigma_ce))

    @property
    def weight_mad(self) -> float:
        """Multiplier of the MAD term in ``total`` (1/sigma_1; nan without a MAD term)."""
        return math.exp(-float(self.log_sigma_mad))

    def to_dict(self) -> dict[str, float]:
        """Plain floats for logging/history rows."""
        return {
            "total": float(self.total.detach()),
            "ce": float(self.ce),
            "mad": float(self.mad),
            "sigma_ce": self.sigma_ce,
            "sigma_mad": self.sigma_mad,
            "weight_ce": self.weight_ce,
            "weight_mad": self.weight_mad,
        }


def _check_segmentation(logits: Tensor, target: Tensor) -> None:
    if logits.ndim != 4:
        raise ValueError(f"logits must be (B, C, H, W), got shape {tuple(logits.shape)}")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target must be class indices of shape {expected} (B, H, W) for logits "
            f"{tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    if target.dtype != torch.long:
        raise TypeError(f"target must hold int64 class indices, got dtype {target.dtype}")


def _check_distance(logits: Tensor, dist_pred: Tensor | None, dist_target: Tensor | None) -> None:
    if dist_pred is None or dist_target is None:
        missing = [
            n for n, t in (("dist_pred", dist_pred), ("dist_target", dist_target)) if t is None
        ]
        raise ValueError(
            f"the dmr loss needs predicted and reference distance maps; missing {missing} "
            "(is the model built with regularized=True and the dataset giving distance maps?)"
        )
    b, c, h, w = logits.shape
    expected = (b, c - 1, h, w)
    for name, tensor in (("dist_pred", dist_pred), ("dist_target", dist_target)):
        if tuple(tensor.shape) != expected:
            raise ValueError(
                f"{name} must have shape {expected} (B, C-1, H, W) for logits "
                f"{tuple(logits.shape)}, got {tuple(tensor.shape)}"
            )


def mean_absolute_difference(dist_pred: Tensor, dist_target: Tensor) -> Tensor:
    """L_MAD: mean over all pixels and maps of |prediction - reference|, in float32."""
    return (dist_pred.float() - dist_target.float()).abs().mean()


class CrossEntropyLoss(nn.Module):
    """Pixel-wise cross-entropy of logits (B, C, H, W) against class indices (B, H, W)."""

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        dist_pred: Tensor | None = None,
        dist_target: Tensor | None = None,
    ) -> LossOutput:
        """``dist_target`` is accepted and unused (loaders may always supply it).

        Raises:
            ValueError: on shape mismatches, or when ``dist_pred`` is given: a regularized model
                trained with plain CE would leave its regularizer untrained; use ``dmr``.
        """
        _check_segmentation(logits, target)
        if dist_pred is not None:
            raise ValueError(
                "the ce loss got predicted distance maps: train a regularized model with loss 'dmr'"
            )
        ce = F.cross_entropy(logits.float(), target)
        zero = torch.zeros((), device=logits.device)
        nan = torch.full((), math.nan, device=logits.device)
        return LossOutput(total=ce, ce=ce.detach(), mad=nan, log_sigma_ce=zero, log_sigma_mad=nan)


class DistanceMapRegularizedLoss(nn.Module):
    """Paper Eq. 7: CE on the logits plus MAD on the distance maps, weighted by task uncertainty.

    Args:
        learned_weighting: learn s = log sigma per task (Eq. 7); otherwise L = L_MAD + L_CE.
    """

    def __init__(self, learned_weighting: bool = True) -> None:
        super().__init__()
        self.learned_weighting = learned_weighting
        if learned_weighting:
            # s = 0  ->  sigma = 1  ->  both tasks start with weight 1.0 (paper II.F).
            self.log_sigma_mad = nn.Parameter(torch.zeros(()))
            self.log_sigma_ce = nn.Parameter(torch.zeros(()))

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        dist_pred: Tensor | None = None,
        dist_target: Tensor | None = None,
    ) -> LossOutput:
        """logits (B, C, H, W), target (B, H, W) int64, dist_pred/dist_target (B, C-1, H, W)."""
        _check_segmentation(logits, target)
        _check_distance(logits, dist_pred, dist_target)
        ce = F.cross_entropy(logits.float(), target)
        mad = mean_absolute_difference(dist_pred, dist_target)
        if self.learned_weighting:
            s_mad, s_ce = self.log_sigma_mad, self.log_sigma_ce
            total = mad * torch.exp(-s_mad) + ce * torch.exp(-s_ce) + s_mad + s_ce
            log_sigma_ce, log_sigma_mad = s_ce.detach(), s_mad.detach()
        else:
            total = mad + ce
            log_sigma_ce = log_sigma_mad = torch.zeros((), device=logits.device)
        return LossOutput(
            total=total,
            ce=ce.detach(),
            mad=mad.detach(),
            log_sigma_ce=log_sigma_ce,
            log_sigma_mad=log_sigma_mad,
        )


def build_loss(loss: str, weighting: str = "learned") -> nn.Module:
    """The training loss by name.

    Args:
        loss: ``ce`` (baselines) or ``dmr`` (Eq. 7, for regularized models).
        weighting: ``learned`` (task uncertainties) or ``fixed`` (equal weights 1.0); only
            meaningful for ``dmr``, but validated for both.

    Returns:
        A module called as ``loss_fn(logits, target, dist_pred=None, dist_target=None)`` that
        returns a :class:`LossOutput`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")
    if loss == "ce":
        return CrossEntropyLoss()
    return DistanceMapRegularizedLoss(learned_weighting=weighting == "learned")
