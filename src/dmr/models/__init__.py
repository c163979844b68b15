"""SegNet, U-SegNet and U-Net, each optionally with the distance map regularizer (DMR) decoder.

The three networks share one encoder and differ only in how their segmentation decoder upsamples
(pooling indices or a learned transposed convolution) and whether it concatenates the encoder's
features (skip connections); this is exactly the yes/no table of the paper's Fig. 3 (Dangi, Linte,
Yaniv, "A Distance Map Regularized CNN for Cardiac Cine MR Image Segmentation", Med. Phys. 2019):

=========  ===============  ===============
arch       pooling indices  skip connection
=========  ===============  ===============
segnet     yes              no
usegnet    yes              yes
unet       no (learned)     yes
=========  ===============  ===============

The DMR decoder is a SegNet-like decoder attached to the bottleneck; it predicts C-1 truncated
signed distance maps (one per foreground class) and is dropped after training
(:meth:`DistanceMapRegularizedNetwork.without_regularizer`), so the deployed network is the
baseline, parameter for parameter. Layer sizes are chosen to reproduce the parameter counts of the
paper's Table I; ``docs/architecture.md`` derives them and compares the counts.

The package is split by idea: ``config`` (the hyperparameters saved in checkpoints), ``blocks``
(convolution blocks, the shared encoder, one decoder level), ``decoders`` (segmentation and DMR),
``networks`` (the two networks and their builders) and ``checkpointing`` (activation
checkpointing, a memory-for-compute switch that changes no number).
"""

from dmr.models.blocks import ConvBNReLU, Encoder, EncoderFeatures, TwoConvBlock, UpLevel
from dmr.models.checkpointing import enable_activation_checkpointing
from dmr.models.config import ARCHITECTURES, SIZE_DIVISOR, ModelConfig
from dmr.models.decoders import DistanceMapDecoder, SegmentationDecoder
from dmr.models.networks import (
    DistanceMapRegularizedNetwork,
    SegmentationNetwork,
    build_model,
    build_model_from_config,
    count_parameters,
    network_input,
)

__all__ = [
    "ARCHITECTURES",
    "SIZE_DIVISOR",
    "ConvBNReLU",
    "DistanceMapDecoder",
    "DistanceMapRegularizedNetwork",
    "Encoder",
    "EncoderFeatures",
    "ModelConfig",
    "SegmentationDecoder",
    "SegmentationNetwork",
    "TwoConvBlock",
    "UpLevel",
    "build_model",
    "build_model_from_config",
    "count_parameters",
    "enable_activation_checkpointing",
    "network_input",
]
