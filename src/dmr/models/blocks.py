"""The networks' building blocks: conv + BatchNorm + ReLU, the encoder all six networks share, and
one decoder level (upsampling by pooling indices or a transposed conv, optional skip connection)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: 2x2 max pooling after each encoder level; decoders upsample by the same factor.
_POOL = 2


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (same padding) + BatchNorm + ReLU: (B, in, H, W) -> (B, out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_channels),
            # In place: saves one activation-sized buffer per layer during training.
            nn.ReLU(inplace=True),
        )


class TwoConvBlock(nn.Sequential):
    """Two :class:`ConvBNReLU`: (B, in, H, W) -> (B, mid, H, W) -> (B, out, H, W)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__(
            ConvBNReLU(in_channels, mid_channels), ConvBNReLU(mid_channels, out_channels)
        )


class EncoderFeatures(NamedTuple):
    """What the decoders read from the encoder; ``level{k}`` is at 1/2**(k-1) resolution."""

    level1: Tensor
    level2: Tensor
    level3: Tensor
    level4: Tensor
    pool_indices: tuple[Tensor, Tensor, Tensor, Tensor]
    bottleneck: Tensor


class Encoder(nn.Module):
    """Four levels of two convolutions, each followed by 2x2 max pooling, then a bottleneck conv.

    Args:
        in_channels: image channels.
        level_channels: channels of levels 1..4.

    Input (B, in_channels, H, W) with H, W divisible by 16; the bottleneck is
    (B, level_channels[3], H/16, W/16). The pooling indices are always kept: SegNet-style decoders
    and the DMR decoder upsample with them.
    """

    def __init__(self, in_channels: int, level_channels: tuple[int, ...]) -> None:
        super().__init__()
        c1, c2, c3, c4 = level_channels
        self.level1 = TwoConvBlock(in_channels, c1, c1)
        self.level2 = TwoConvBlock(c1, c2, c2)
        self.level3 = TwoConvBlock(c2, c3, c3)
        self.level4 = TwoConvBlock(c3, c4, c4)
        self.bottleneck = ConvBNReLU(c4, c4)

    @staticmethod
    def _down(features: Tensor) -> tuple[Tensor, Tensor]:
        return F.max_pool2d(features, _POOL, _POOL, return_indices=True)

    def forward(self, image: Tensor) -> EncoderFeatures:
        level1 = self.level1(image)
        pooled1, indices1 = self._down(level1)
        level2 = self.level2(pooled1)
        pooled2, indices2 = self._down(level2)
        level3 = self.level3(pooled2)
        pooled3, indices3 = self._down(level3)
        level4 = self.level4(pooled3)
        pooled4, indices4 = self._down(level4)
        bottleneck = self.bottleneck(pooled4)
        return EncoderFeatures(
            level1, level2, level3, level4, (indices1, indices2, indices3, indices4), bottleneck
        )


class UpLevel(nn.Module):
    """One decoder level: upsample x2, optionally concatenate the encoder's features, two convs.

    Args:
        in_channels: channels of the coarser input (equal to the encoder level's channels).
        mid_channels: output channels of the first conv.
        out_channels: output channels of the second conv.
        learned_upsampling: 2x2 stride-2 transposed conv (c -> c, U-Net) instead of max-unpooling
            with the encoder's pooling indices (SegNet).
        concat_skip: concatenate the encoder features of this level before the convs (U-Net's skip
            connection), which doubles the first conv's input channels.
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        *,
        learned_upsampling: bool,
        concat_skip: bool,
    ) -> None:
        super().__init__()
        self.concat_skip = concat_skip
        self.upsample = (
            nn.ConvTranspose2d(in_channels, in_channels, kernel_size=_POOL, stride=_POOL)
            if learned_upsampling
            else None
        )
        conv_in = 2 * in_channels if concat_skip else in_channels
        self.convs = TwoConvBlock(conv_in, mid_channels, out_channels)

    def forward(self, coarse: Tensor, encoder_features: Tensor, pool_indices: Tensor) -> Tensor:
        """(B, in, h, w) -> (B, out, 2h, 2w); ``encoder_features`` is (B, in, 2h, 2w)."""
        if self.upsample is not None:
            upsampled = self.upsample(coarse)
        else:
            # The ATen op F.max_unpool2d wraps, called directly: F's output-size check imports
            # torch.fx's symbolic-shapes machinery (~0.4 s per process). Training loads it anyway
            # (torch.optim imports torch._dynamo); prediction jobs need not. The size is known
            # here and the kernel is the same.
            upsampled = torch.ops.aten.max_unpool2d(
                coarse, pool_indices, list(encoder_features.shape[-2:])
            )
        if self.concat_skip:
            upsampled = torch.cat([encoder_features, upsampled], dim=1)
        return self.convs(upsampled)
