"""dmr.train.losses: values on hand-computed examples, learned weights, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dmr.train.losses import build_loss

torch.set_num_threads(1)

# One image, 3 classes, 1 x 2 pixels. Pixel 0 has logits (2, 0, 0) and label 0;
# pixel 1 has logits (0, 1, 0) and label 2.
LOGITS = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]], [[0.0, 0.0]]]])
TARGET = torch.tensor([[[0, 2]]])
# Pixel-wise CE = log(sum exp) - logit of the label, by hand:
EXPECTED_CE = (math.log(math.exp(2) + 2) - 2 + math.log(math.exp(1) + 2) - 0) / 2
# C-1 = 2 distance maps of 1 x 2 pixels; |differences| are 1, 3, 0.5, 0.5 -> mean 1.25.
DIST_PRED = torch.tensor([[[[1.0, -2.0]], [[0.5, 0.0]]]])
DIST_TARGET = torch.tensor([[[[0.0, 1.0]], [[0.0, 0.5]]]])
EXPECTED_MAD = 1.25


def test_cross_entropy_matches_hand_computation_with_unit_weights() -> None:
    out = build_loss("ce")(LOGITS, TARGET)
    assert out.total.item() == pytest.approx(EXPECTED_CE, rel=1e-6)
    assert float(out.ce) == pytest.approx(EXPECTED_CE, rel=1e-6)
    assert math.isnan(float(out.mad))
    assert out.sigma_ce == 1.0 and out.weight_ce == 1.0
    assert math.isnan(out.sigma_mad) and math.isnan(out.weight_mad)
    assert list(build_loss("ce").parameters()) == []


def test_dmr_learned_weights_start_at_one() -> None:
    loss_fn = build_loss("dmr", "learned")
    out = loss_fn(LOGITS, TARGET, DIST_PRED, DIST_TARGET)
    assert (out.weight_ce, out.weight_mad, out.sigma_ce, out.sigma_mad) == (1.0, 1.0, 1.0, 1.0)
    # With s = 0 the log-sigma terms vanish: L = MAD + CE.
    assert out.total.item() == pytest.approx(EXPECTED_MAD + EXPECTED_CE, rel=1e-6)
    assert float(out.mad) == pytest.approx(EXPECTED_MAD)
    assert set(loss_fn.state_dict()) == {"log_sigma_mad", "log_sigma_ce"}


def test_dmr_learned_equation_7_and_gradients_of_log_sigmas() -> None:
    loss_fn = build_loss("dmr", "learned")
    s_mad, s_ce = 0.5, -0.3
    with torch.no_grad():
        loss_fn.log_sigma_mad.fill_(s_mad)
        loss_fn.log_sigma_ce.fill_(s_ce)
    out = loss_fn(LOGITS, TARGET, DIST_PRED, DIST_TARGET)
    expected = EXPECTED_MAD / np.exp(s_mad) + EXPECTED_CE / np.exp(s_ce) + s_mad + s_ce
    assert out.total.item() == pytest.approx(expected, rel=1e-6)
    assert out.weight_mad == pytest.approx(np.exp(-s_mad))
    assert out.sigma_ce == pytest.approx(np.exp(s_ce))

    out.total.backward()
    # dL/ds = 1 - L_task * exp(-s)
    assert float(loss_fn.log_sigma_mad.grad) == pytest.approx(1 - EXPECTED_MAD * np.exp(-s_mad))
    assert float(loss_fn.log_sigma_ce.grad) == pytest.approx(1 - EXPECTED_CE * np.exp(-s_ce))


def test_dmr_fixed_weighting_is_plain_sum_without_parameters() -> None:
    loss_fn = build_loss("dmr", "fixed")
    assert list(loss_fn.parameters()) == []
    dist_pred = DIST_PRED.clone().requires_grad_()
    out = loss_fn(LOGITS, TARGET, dist_pred, DIST_TARGET)
    assert out.total.item() == pytest.approx(EXPECTED_MAD + EXPECTED_CE, rel=1e-6)
    assert (out.weight_ce, out.weight_mad) == (1.0, 1.0)
    out.total.backward()
    # d mean|p - t| / dp = sign(p - t) / N
    expected_grad = np.sign(DIST_PRED.numpy() - DIST_TARGET.numpy()) / 4
    np.testing.assert_allclose(dist_pred.grad.numpy(), expected_grad)


def test_missing_or_misshaped_inputs_raise_clear_errors() -> None:
    dmr = build_loss("dmr")
    with pytest.raises(ValueError, match="missing \\['dist_target'\\]"):
        dmr(LOGITS, TARGET, DIST_PRED, None)
    with pytest.raises(ValueError, match="dist_pred must have shape"):
        dmr(LOGITS, TARGET, DIST_PRED[:, :1], DIST_TARGET)
    with pytest.raises(ValueError, match="target must be class indices"):
        dmr(LOGITS, TARGET[:, :, :1], DIST_PRED, DIST_TARGET)
    with pytest.raises(TypeError, match="int64"):
        dmr(LOGITS, TARGET.float(), DIST_PRED, DIST_TARGET)
    with pytest.raises(ValueError, match="loss 'dmr'"):
        build_loss("ce")(LOGITS, TARGET, DIST_PRED, DIST_TARGET)
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("dice")
    with pytest.raises(ValueError, match="unknown weighting"):
        build_loss("dmr", "uncertainty")
