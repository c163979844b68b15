"""The architecture hyperparameters a checkpoint stores, so that a model can be rebuilt from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ARCHITECTURES = ("segnet", "usegnet", "unet")
#: Four max-pooling levels: the spatial size must be divisible by 2**4.
SIZE_DIVISOR = 16
#: Channels per encoder level at ``width=32`` are 32, 64, 128, 256 (``width`` times these factors).
_LEVEL_MULTIPLIERS = (1, 2, 4, 8)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyperparameters; saved in checkpoints so a model can be rebuilt from them.

    Args:
        arch: ``segnet``, ``usegnet`` or ``unet``.
        regularized: add the distance map regularizer decoder (training-time only).
        in_channels: image channels (1 for cine MR).
        num_classes: segmentation classes C including background; the DMR predicts C-1 maps.
        width: channels of the first level; levels have width x (1, 2, 4, 8) channels.
    """

    arch: str
    regularized: bool
    in_channels: int = 1
    num_classes: int = 4
    width: int = 32

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {ARCHITECTURES}")
        if not isinstance(self.regularized, bool):
            raise TypeError(f"regularized must be a bool, got {self.regularized!r}")
        for name, minimum in (("in_channels", 1), ("num_classes", 2), ("width", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")

    @property
    def level_channels(self) -> tuple[int, ...]:
        """Channels of encoder levels 1..4 (full, 1/2, 1/4, 1/8 resolution)."""
        return tuple(self.width * m for m in _LEVEL_MULTIPLIERS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        return cls(**data)
