"""Which arithmetic training and inference run in: float32 or bf16/fp16 autocast (``amp``).

Why ``auto`` is float32 on CPUs: autocast pays only where the matrices are large enough for bf16
matrix units to matter. On an Intel Xeon with AMX and AVX512-BF16 one CPU training step ran
U-Net at 128 px, width 32 4.0x faster in bf16 than in float32 and DMR-U-Net 3.1x; at the
default's 48 px, width 8 bf16 was 0.6-1.5x float32 (``benchmarks/train_throughput.py``): no
reliable gain, and numbers that would change with the CPU that ran them (the default's claims
did). So ``auto`` chooses:

- CUDA: bf16 on GPUs with native bf16 (compute capability 8.0 or newer: Ampere, Ada, Hopper,
  Blackwell; every ROCm GPU PyTorch supports), float32 on older GPUs;
- CPU: float32, on every CPU, so that a result does not hang on which CPU produced it.
  ``true`` opts in to bf16 (worth it at the paper's sizes on CPUs with ``amx_bf16`` or
  ``avx512_bf16``; emulated, and slower than float32, on CPUs without them).

``true`` forces autocast (bf16; fp16 with loss scaling on a CUDA GPU without native bf16, and
emulated bf16 on a CPU without bf16 units), ``false`` forces float32. The loss, the optimiser
state and the weights stay float32 in every case (autocast, not a bf16 model).

Inference (``dmr predict``, the workflow's predictions) runs by default in the precision the
model trained in (``trained``, :func:`trained_precision`): a model trained in bf16 and applied
in float32 (or the reverse) labels some voxels differently from its own evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from dmr.switch import parse_switch

log = logging.getLogger(__name__)

#: Flags of /proc/cpuinfo that name bf16 matrix instructions (x86: AMX tiles, AVX-512 BF16).
CPU_BF16_FLAGS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Precision:
    """The resolved choice: ``name`` is what history.csv records (``fp32``, ``bf16``, ``fp16``)."""

    name: str
    #: The autocast dtype; None for plain float32.
    dtype: torch.dtype | None
    #: Why this precision, for the log (e.g. "amp auto: CPU has amx_bf16").
    reason: str

    def autocast(self, device: torch.device) -> torch.autocast | None:
        """An autocast context for ``device``, or None in float32."""
        if self.dtype is None:
            return None
        return torch.autocast(device.type, dtype=self.dtype)


FP32 = Precision("fp32", None, "amp false")


def parse_amp(value: str | bool) -> str:
    """``auto``, ``true`` or ``false`` from a config value or option (YAML booleans allowed)."""
    return parse_switch(value, "amp")


def cpu_flags() -> set[str] | None:
    """The CPU feature flags of ``/proc/cpuinfo`` (Linux), or None where there is no such file."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def cpu_bf16_units() -> list[str]:
    """Names of the bf16 matrix instruction sets this CPU has (empty: none).

    Linux: the ``amx_bf16`` / ``avx512_bf16`` flags of /proc/cpuinfo, which the kernel shows
    only when it also enables them. Elsewhere: PyTorch's cpuinfo probe (the one oneDNN uses).
    """
    flags = cpu_flags()
    if flags is not None:
        return [flag for flag in CPU_BF16_FLAGS if flag in flags]
    found = []
    probes = {"amx_bf16": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}
    for name, probe in probes.items():
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            found.append(name)
    return found


def cuda_native_bf16(device: torch.device) -> bool:
    """Whether the CUDA device computes bf16 natively (emulated bf16 on older GPUs is slow)."""
    if torch.version.hip:
        return True
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def resolve_precision(device: torch.device, amp: str | bool) -> Precision:
    """The precision that ``amp`` (auto, true, false) means on ``device``; see the module doc."""
    amp = parse_amp(amp)
    if amp == "false":
        return FP32
    if device.type == "cuda":
        native = cuda_native_bf16(device)
        if native:
            return Precision("bf16", torch.bfloat16, f"amp {amp}: the GPU has native bf16")
        if amp == "auto":
            return Precision("fp32", None, "amp auto: the GPU has no native bf16")
        return Precision("fp16", torch.float16, "amp true: the GPU has no native bf16, fp16")
    if device.type == "cpu":
        units = cpu_bf16_units()
        if amp == "auto":
            has = f"has {'+'.join(units)}" if units else "has no bf16 matrix units"
            return Precision("fp32", None, f"amp auto: float32 on CPUs (this one {has})")
        if units:
            return Precision("bf16", torch.bfloat16, f"amp true: the CPU has {'+'.join(units)}")
        return Precision("bf16", torch.bfloat16, "amp true: bf16 emulated (no bf16 units)")
    if amp == "auto":
        return Precision("fp32", None, f"amp auto: no bf16 detection for {device.type}")
    return Precision("bf16", torch.bfloat16, f"amp true on {device.type}")


#: ``--amp`` of inference: the switch values or ``trained`` (each model's training precision).
TRAINED = "trained"
_AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def parse_inference_amp(value: str | bool) -> str:
    """``trained``, or what :func:`parse_amp` accepts."""
    return TRAINED if value == TRAINED else parse_amp(value)


def trained_precision(name: str, device: torch.device) -> Precision:
    """The precision a model recorded as trained in (``fp32``, ``bf16``, ``fp16``), to apply it
    as it was evaluated during training. fp16 without CUDA runs as bf16 (CPU autocast)."""
    if name not in _AUTOCAST_DTYPES:
        raise ValueError(f"unknown training precision {name!r}; expected fp32, bf16 or fp16")
    if name == "fp16" and device.type != "cuda":
        return Precision("bf16", torch.bfloat16, "trained in fp16 on CUDA; bf16 off CUDA")
    return Precision(name, _AUTOCAST_DTYPES[name], f"the model trained in {name}")


def legacy_precision(device: str, amp: bool) -> str:
    """The precision a checkpoint written before ``amp: auto`` existed trained in: ``amp: true``
    meant autocast on CUDA only, bf16 where ``torch.cuda.is_bf16_supported()`` said so, else fp16.
    """
    if not amp or not str(device).startswith("cuda"):
        return "fp32"
    if not torch.cuda.is_available():
        return "bf16 or fp16 (CUDA)"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
