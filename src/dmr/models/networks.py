"""SegNet, U-SegNet and U-Net, the DMR network around them, and the builders the CLI and
checkpoints use."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dmr.models.blocks import Encoder
from dmr.models.config import SIZE_DIVISOR, ModelConfig
from dmr.models.decoders import DistanceMapDecoder, SegmentationDecoder

# (uses pooling indices to upsample, concatenates encoder features) per architecture (paper Fig. 3).
_DECODER_STYLE: dict[str, tuple[bool, bool]] = {
    "segnet": (True, False),
    "usegnet": (True, True),
    "unet": (False, True),
}


def _check_image(image: Tensor, in_channels: int) -> None:
    if image.ndim != 4:
        raise ValueError(f"expected an image batch (B, C, H, W), got shape {tuple(image.shape)}")
    if image.shape[1] != in_channels:
        raise ValueError(f"expected {in_channels} input channel(s), got shape {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if height % SIZE_DIVISOR or width % SIZE_DIVISOR:
        raise ValueError(
            f"input height and width must be divisible by {SIZE_DIVISOR} (four 2x2 poolings), "
            f"got {height}x{width}; pad or crop the slices first"
        )


def _init_weights(module: nn.Module) -> None:
    """Kaiming-uniform convolutions with zero bias (paper II.F); BatchNorm keeps 1 and 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class SegmentationNetwork(nn.Module):
    """SegNet, U-SegNet or U-Net (selected by ``config.arch``).

    Args:
        config: a :class:`ModelConfig` with ``regularized=False``.

    ``forward(image)``: image (B, in_channels, H, W), H and W divisible by 16 -> logits
    (B, num_classes, H, W).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.regularized:
            raise ValueError("SegmentationNetwork is the plain network; use build_model(...)")
        self.config = config
        learned_upsampling = not _DECODER_STYLE[config.arch][0]
        concat_skip = _DECODER_STYLE[config.arch][1]
        self.encoder = Encoder(config.in_channels, config.level_channels)
        self.decoder = SegmentationDecoder(
            config.level_channels,
            config.num_classes,
            learned_upsampling=learned_upsampling,
            concat_skip=concat_skip,
        )
        _init_weights(self)

    def forward(self, image: Tensor) -> Tensor:
        _check_image(image, self.config.in_channels)
        encoded = self.encoder(image)
        logits = self.decoder(encoded)
        return logits


class DistanceMapRegularizedNetwork(nn.Module):
    """A :class:`SegmentationNetwork` plus the DMR decoder on its bottleneck (DMR-SegNet, ...).

    Args:
        config: a :class:`ModelConfig` with ``regularized=True``.

    ``forward(image)``: image (B, in_channels, H, W), H and W divisible by 16 ->
    ``(logits, distance_maps)`` of shapes (B, C, H, W) and (B, C-1, H, W).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not config.regularized:
            raise ValueError("DistanceMapRegularizedNetwork needs config.regularized=True")
        self.config = config
        plain = ModelConfig(**{**config.to_dict(), "regularized": False})
        self.segmentation = SegmentationNetwork(plain)
        self.regularizer = DistanceMapDecoder(config.level_channels, config.num_classes - 1)
        _init_weights(self.regularizer)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        _check_image(image, self.config.in_channels)
        encoded = self.segmentation.encoder(image)
        logits = self.segmentation.decoder(encoded)
        distance_maps = self.regularizer(encoded)
        return logits, distance_maps

    def without_regularizer(self) -> SegmentationNetwork:
        """The plain network for inference/export; it *shares* its parameters with this model.

        Its ``state_dict()`` loads into ``build_model(arch, regularized=False, ...)`` and its
        parameter count equals the baseline's.
        """
        return self.segmentation


def build_model_from_config(
    config: ModelConfig,
) -> SegmentationNetwork | DistanceMapRegularizedNetwork:
    """Build the network ``config`` describes (weights initialised from torch's global RNG)."""
    if config.regularized:
        return DistanceMapRegularizedNetwork(config)
    return SegmentationNetwork(config)


def build_model(
    arch: str,
    regularized: bool,
    in_channels: int = 1,
    num_classes: int = 4,
    width: int = 32,
) -> SegmentationNetwork | DistanceMapRegularizedNetwork:
    """Build SegNet/U-SegNet/U-Net, with the DMR decoder when ``regularized``.

    Args:
        arch: ``segnet``, ``usegnet`` or ``unet``.
        regularized: add the distance map regularizer (forward then returns two tensors).
        in_channels: image channels.
        num_classes: C, background included.
        width: first-level channels (32 in the paper).

    Returns:
        A module whose ``forward`` maps (B, in_channels, H, W), H and W divisible by 16, to logits
        (B, C, H, W), or to ``(logits, distance_maps (B, C-1, H, W))`` when regularized.
    """
    return build_model_from_config(
        ModelConfig(
            arch, regularized, in_channels=in_channels, num_classes=num_classes, width=width
        )
    )


def network_input(images: Tensor, device: torch.device) -> Tensor:
    """(B, 1, H, W) images on ``device`` in the channels_last layout the networks are moved to
    (``dmr train``, ``dmr predict``): oneDNN and cuDNN run these convolutions fastest in it."""
    return images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the quantity of the paper's Table I)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
