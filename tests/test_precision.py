"""amp auto/true/false: float32 on CPUs unless asked (whatever bf16 units they have), bf16 on
GPUs with native bf16; inference in the model's own precision (detection faked, so the test
means the same on every machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import dmr.train.precision
from dmr.errors import DmrError
from dmr.train.precision import (
    cpu_bf16_units,
    cpu_flags,
    parse_amp,
    parse_inference_amp,
    resolve_precision,
    trained_precision,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda:0")


def fake_cpuinfo(monkeypatch, tmp_path: Path, text: str) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    monkeypatch.setattr(dmr.train.precision, "CPUINFO", path)


def test_cpu_flags_come_from_proc_cpuinfo(monkeypatch, tmp_path):
    fake_cpuinfo(
        monkeypatch,
        tmp_path,
        "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n",
    )
    assert {"avx512f", "amx_bf16"} <= cpu_flags()
    assert cpu_bf16_units() == ["amx_bf16", "avx512_bf16"]
    # An AVX-512 Xeon without AMX or AVX512-BF16 (this project's development VM).
    fake_cpuinfo(monkeypatch, tmp_path, "flags\t\t: fpu avx2 avx512f avx512_vnni avx512bw\n")
    assert cpu_bf16_units() == []


@pytest.mark.parametrize(
    ("units", "amp", "expected"),
    [
        # auto is float32 on every CPU: bf16 paid 0.6-1.5x at the default's size (module doc)
        (["amx_bf16", "avx512_bf16"], "auto", "fp32"),
        (["avx512_bf16"], "auto", "fp32"),
        ([], "auto", "fp32"),
        (["amx_bf16", "avx512_bf16"], "true", "bf16"),
        (["avx512_bf16"], True, "bf16"),
        ([], "true", "bf16"),  # forced: emulated, slow, but what was asked
        (["amx_bf16"], "false", "fp32"),
        (["amx_bf16"], False, "fp32"),
        ([], True, "bf16"),
    ],
)
def test_cpu_precision(monkeypatch, units, amp, expected):
    monkeypatch.setattr(dmr.train.precision, "cpu_bf16_units", lambda: units)
    precision = resolve_precision(CPU, amp)
    assert precision.name == expected
    assert precision.dtype == (torch.bfloat16 if expected == "bf16" else None)
    if expected == "bf16" and units:
        assert units[0] in precision.reason


@pytest.mark.parametrize(
    ("native_bf16", "amp", "expected", "dtype"),
    [
        (True, "auto", "bf16", torch.bfloat16),
        (False, "auto", "fp32", None),  # e.g. a V100: no native bf16, auto stays float32
        (False, "true", "fp16", torch.float16),  # forced: fp16 with loss scaling
        (True, "false", "fp32", None),
    ],
)
def test_cuda_precision(monkeypatch, native_bf16, amp, expected, dtype):
    monkeypatch.setattr(dmr.train.precision, "cuda_native_bf16", lambda device: native_bf16)
    # CUDA's choice never looks at the CPU.
    monkeypatch.setattr(dmr.train.precision, "cpu_bf16_units", lambda: pytest.fail("CPU probed"))
    precision = resolve_precision(CUDA, amp)
    assert (precision.name, precision.dtype) == (expected, dtype)


def test_amp_values_are_checked():
    assert [parse_amp(v) for v in ("auto", "TRUE", "false", True, False)] == [
        "auto",
        "true",
        "false",
        "true",
        "false",
    ]
    with pytest.raises(DmrError, match="amp must be one of auto, true, false"):
        parse_amp("bf16")


def test_the_cpu_reason_names_the_units_auto_did_not_use(monkeypatch):
    monkeypatch.setattr(dmr.train.precision, "cpu_bf16_units", lambda: ["avx512_bf16"])
    assert "avx512_bf16" in resolve_precision(CPU, "auto").reason


def test_inference_follows_the_precision_the_model_trained_in():
    assert parse_inference_amp("trained") == "trained"
    assert parse_inference_amp(False) == "false"
    assert trained_precision("bf16", CPU).dtype == torch.bfloat16
    assert trained_precision("fp32", CPU).dtype is None
    assert trained_precision("fp16", CUDA).dtype == torch.float16
    assert trained_precision("fp16", CPU).dtype == torch.bfloat16  # no fp16 autocast off CUDA
    with pytest.raises(ValueError, match="unknown training precision 'int8'"):
        trained_precision("int8", CPU)
