"""The two decoders on the shared encoder: segmentation logits, and the distance map regularizer."""

from __future__ import annotations

from torch import Tensor, nn

from dmr.models.blocks import EncoderFeatures, TwoConvBlock, UpLevel


def _through_levels(decoder: nn.Module, encoded: EncoderFeatures) -> Tensor:
    """Bottleneck to full resolution through ``decoder.level4`` ... ``level1``, each reading the
    encoder's features and pooling indices of its own resolution: the walk both decoders share."""
    indices1, indices2, indices3, indices4 = encoded.pool_indices
    decoded4 = decoder.level4(encoded.bottleneck, encoded.level4, indices4)
    decoded3 = decoder.level3(decoded4, encoded.level3, indices3)
    decoded2 = decoder.level2(decoded3, encoded.level2, indices2)
    return decoder.level1(decoded2, encoded.level1, indices1)


class SegmentationDecoder(nn.Module):
    """Mirror of the encoder ending in per-pixel class logits.

    Each level keeps its channel count on the first conv and reduces it on the last one. Two
    extra 3x3 convs at full resolution (``refine``) precede the 1x1 classifier; with them the
    parameter counts match the paper's Table I to its printed precision (docs/architecture.md).

    Args:
        level_channels: encoder channels of levels 1..4.
        num_classes: C.
        learned_upsampling, concat_skip: see :class:`UpLevel`.

    Reads :class:`EncoderFeatures`; returns logits (B, C, H, W).
    """

    def __init__(
        self,
        level_channels: tuple[int, ...],
        num_classes: int,
        *,
        learned_upsampling: bool,
        concat_skip: bool,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = level_channels
        style = {"learned_upsampling": learned_upsampling, "concat_skip": concat_skip}
        self.level4 = UpLevel(c4, c4, c3, **style)
        self.level3 = UpLevel(c3, c3, c2, **style)
        self.level2 = UpLevel(c2, c2, c1, **style)
        self.level1 = UpLevel(c1, c1, c1, **style)
        self.refine = TwoConvBlock(c1, c1, c1)
        self.classifier = nn.Conv2d(c1, num_classes, kernel_size=1)

    def forward(self, encoded: EncoderFeatures) -> Tensor:
        logits = self.classifier(self.refine(_through_levels(self, encoded)))
        return logits


class DistanceMapDecoder(nn.Module):
    """The distance map regularizer (paper II.B, Fig. 3): a SegNet-like decoder on the bottleneck.

    Each level unpools with the encoder's pooling indices, reduces channels on its first conv,
    keeps them on the second, and a 1x1 conv gives one map per foreground class. No skip
    connections: the regularizer should shape the bottleneck's global features.

    Args:
        level_channels: encoder channels of levels 1..4.
        num_maps: C-1 distance maps.

    Reads :class:`EncoderFeatures`; returns distance maps (B, C-1, H, W).
    """

    def __init__(self, level_channels: tuple[int, ...], num_maps: int) -> None:
        super().__init__()
        c1, c2, c3, c4 = level_channels
        style = {"learned_upsampling": False, "concat_skip": False}
        self.level4 = UpLevel(c4, c3, c3, **style)
        self.level3 = UpLevel(c3, c2, c2, **style)
        self.level2 = UpLevel(c2, c1, c1, **style)
        self.level1 = UpLevel(c1, c1, c1, **style)
        self.regressor = nn.Conv2d(c1, num_maps, kernel_size=1)

    def forward(self, encoded: EncoderFeatures) -> Tensor:
        distance_maps = self.regressor(_through_levels(self, encoded))
        return distance_maps
