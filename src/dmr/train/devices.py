"""Where a training runs (``--device``) and how it is made repeatable (seeds)."""

from __future__ import annotations

import numpy as np
import torch

from dmr.errors import DmrError


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DmrError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DmrError(f"device {name!r} requested but CUDA is not available")
    return device


def device_label(device: torch.device) -> str:
    """What Table I reports as the training device, e.g. ``cpu`` or ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and numpy's global generators.

    The project draws its own numbers from explicit generators; numpy's legacy global one is
    seeded (and saved in checkpoints) only for library code that still draws from it.
    """
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
