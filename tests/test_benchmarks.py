"""The on-demand benchmark scripts still run and report what the README says they report."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_reports_minutes_per_paper_epoch(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_throughput.py"),
        *("--sizes", "192", "32", "--models", "segnet-dmr", "--width", "2", "--batch", "2"),
        *("--steps", "1", "--warmup", "0", "--threads", "1", "--out", str(out)),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["reuse_freed_memory"] is (platform.libc_ver()[0] == "glibc")
    at_lvsc_size, at_other_size = report["results"]
    assert at_lvsc_size["epoch_dataset"] == "lvsc"
    assert at_lvsc_size["epoch_images"] == 45_600  # 0.8 x 19,000 slices x (1 + 2 copies)
    assert at_lvsc_size["paper_titan_xp_min_per_epoch"] == 20.57  # Table I, DMR-SegNet, LVSC
    assert at_lvsc_size["train_min_per_epoch"] == pytest.approx(
        45_600 / at_lvsc_size["train_images_per_s"] / 60
    )
    assert at_lvsc_size["infer_ms_per_image_with_regularizer"] is not None
    assert 0 < at_lvsc_size["train_fraction_of_peak"]
    assert at_other_size["epoch_dataset"] is None
    assert "| segnet-dmr | 192 |" in run.stdout
