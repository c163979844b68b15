"""dmr.models: Table I parameter counts, shapes, the removable regularizer, input checks."""

from __future__ import annotations

import math

import pytest
import torch

from dmr.models import (
    ARCHITECTURES,
    ModelConfig,
    build_model,
    build_model_from_config,
    count_parameters,
    enable_activation_checkpointing,
)

torch.set_num_threads(1)

# Paper Table I, #parameters (x 10^6) at training time; at test time DMR models equal the baseline.
PAPER_TRAIN_PARAMETERS_M = {
    ("segnet", False): 2.96,
    ("usegnet", False): 3.75,
    ("unet", False): 4.10,
    ("segnet", True): 3.56,
    ("usegnet", True): 4.35,
    ("unet", True): 4.70,
}
TINY_WIDTH = 4


@pytest.mark.parametrize(("arch", "regularized"), list(PAPER_TRAIN_PARAMETERS_M))
def test_parameter_counts_match_table_1_within_one_percent(arch: str, regularized: bool) -> None:
    model = build_model(arch, regularized)
    paper = PAPER_TRAIN_PARAMETERS_M[(arch, regularized)] * 1e6
    assert count_parameters(model) == pytest.approx(paper, rel=0.01)
    if regularized:
        deployed = model.without_regularizer()
        assert count_parameters(deployed) == count_parameters(build_model(arch, False))
        paper_test = PAPER_TRAIN_PARAMETERS_M[(arch, False)] * 1e6
        assert count_parameters(deployed) == pytest.approx(paper_test, rel=0.01)


def test_parameter_counts_are_ordered_like_the_paper() -> None:
    # Skips add parameters (U-SegNet > SegNet); learned upsampling adds more (U-Net > U-SegNet).
    counts = [count_parameters(build_model(a, False)) for a in ("segnet", "usegnet", "unet")]
    assert counts == sorted(counts) and len(set(counts)) == 3


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("regularized", [False, True])
@pytest.mark.parametrize("size", [32, 48])
@pytest.mark.parametrize("batch", [1, 3])
def test_output_shapes(arch: str, regularized: bool, size: int, batch: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch, regularized, in_channels=2, num_classes=3, width=TINY_WIDTH).eval()
    image = torch.randn(batch, 2, size, size + 16)
    with torch.no_grad():
        output = model(image)
    if regularized:
        logits, distance_maps = output
        assert distance_maps.shape == (batch, 2, size, size + 16)
        assert torch.isfinite(distance_maps).all()
    else:
        logits = output
    assert logits.shape == (batch, 3, size, size + 16)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_without_regularizer_shares_weights_and_reproduces_logits(arch: str) -> None:
    torch.manual_seed(1)
    regularized = build_model(arch, True, width=TINY_WIDTH).eval()
    plain = regularized.without_regularizer()
    assert plain.config == ModelConfig(arch, False, width=TINY_WIDTH)
    assert {id(p) for p in plain.parameters()} <= {id(p) for p in regularized.parameters()}

    image = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        logits, _ = regularized(image)
        assert torch.equal(plain(image), logits)

        # The exported weights load strictly into a freshly built baseline and give the same output.
        baseline = build_model(arch, False, width=TINY_WIDTH)
        baseline.load_state_dict(plain.state_dict(), strict=True)
        assert torch.allclose(baseline.eval()(image), logits, atol=1e-6)


@pytest.mark.parametrize("size", [(40, 32), (32, 24), (8, 8)])
def test_spatial_size_not_divisible_by_16_is_rejected(size: tuple[int, int]) -> None:
    model = build_model("segnet", True, width=TINY_WIDTH)
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.randn(1, 1, *size))


def test_wrong_channel_count_is_rejected() -> None:
    model = build_model("unet", False, in_channels=1, width=TINY_WIDTH)
    with pytest.raises(ValueError, match="input channel"):
        model(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_channels_last_gives_the_same_result(arch: str) -> None:
    torch.manual_seed(2)
    model = build_model(arch, True, width=TINY_WIDTH).eval()
    image = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        reference_logits, reference_maps = model(image)
        model = model.to(memory_format=torch.channels_last)
        logits, maps = model(image.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(logits, reference_logits, atol=1e-5)
    assert torch.allclose(maps, reference_maps, atol=1e-5)


def test_training_step_reaches_both_decoders_in_channels_last() -> None:
    torch.manual_seed(3)
    model = build_model("usegnet", True, width=TINY_WIDTH).to(memory_format=torch.channels_last)
    image = torch.randn(2, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    logits, maps = model(image)
    (logits.square().mean() + maps.abs().mean()).backward()
    assert model.regularizer.regressor.weight.grad.abs().sum() > 0
    assert model.segmentation.decoder.classifier.weight.grad.abs().sum() > 0
    assert model.segmentation.encoder.level1[0][0].weight.grad.abs().sum() > 0


def test_same_seed_gives_same_weights_and_kaiming_uniform_bounds() -> None:
    torch.manual_seed(4)
    first = build_model("unet", True, width=TINY_WIDTH)
    torch.manual_seed(4)
    second = build_model("unet", True, width=TINY_WIDTH)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)

    conv = build_model("segnet", False).encoder.level4[1][0]  # 256 -> 256, fan_in 2304
    bound = math.sqrt(2.0) * math.sqrt(3.0 / (256 * 9))  # He-uniform bound for ReLU
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.99 * bound
    assert torch.count_nonzero(conv.bias) == 0


def test_config_round_trip_and_validation() -> None:
    config = ModelConfig("usegnet", True, in_channels=1, num_classes=4, width=8)
    assert ModelConfig.from_dict(config.to_dict()) == config
    model = build_model_from_config(config)
    assert model.config == config
    assert count_parameters(model) == count_parameters(build_model("usegnet", True, width=8))
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("resnet", False)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("unet", True, num_classes=1)
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**config.to_dict(), "depth": 5})


@pytest.mark.parametrize("arch", ["segnet", "unet"])
def test_activation_checkpointing_changes_no_number(arch: str) -> None:
    """Two training steps with and without checkpointing give identical weights and BN stats."""
    torch.set_num_threads(1)
    states = []
    for checkpointed in (False, True):
        torch.manual_seed(0)
        model = build_model(arch, True, num_classes=3, width=4)
        if checkpointed:
            assert "encoder.level1" in enable_activation_checkpointing(model)
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(1)
        for _ in range(2):
            image = torch.randn(2, 1, 32, 32, generator=generator)
            logits, distances = model(image)
            (logits.square().mean() + distances.abs().mean()).backward()
            optimizer.step()
            optimizer.zero_grad()
        states.append(model.state_dict())
    plain, checkpointed_state = states
    assert plain.keys() == checkpointed_state.keys()
    for name, value in plain.items():
        torch.testing.assert_close(checkpointed_state[name], value, rtol=0, atol=0, msg=name)


def test_unpooling_level_equals_torch_max_unpool2d() -> None:
    # UpLevel calls the ATen op directly (no torch.fx import); values and gradients must be those
    # of the documented F.max_unpool2d with the encoder's pooling indices.
    import torch.nn.functional as F

    from dmr.models import UpLevel

    torch.manual_seed(0)
    level = UpLevel(4, 4, 4, learned_upsampling=False, concat_skip=False)
    fine = torch.randn(2, 4, 12, 12)
    coarse, indices = F.max_pool2d(fine, 2, 2, return_indices=True)
    coarse.requires_grad_(True)
    ours = level(coarse, fine, indices)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), coarse)
    reference = level.convs(F.max_unpool2d(coarse, indices, 2, 2, output_size=fine.shape[-2:]))
    (grad_reference,) = torch.autograd.grad(reference.square().sum(), coarse)
    assert torch.equal(ours, reference)
    assert torch.equal(grad_ours, grad_reference)
