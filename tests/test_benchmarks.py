"""The on-demand benchmark scripts still run and report what the README says they report."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_reports_minutes_per_paper_epoch(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_throughput.py"),
        *("--sizes", "192", "32", "--models", "segnet-dmr", "--width", "2", "--batch", "2"),
        *("--steps", "1", "--warmup", "0", "--threads", "1", "--precision", "fp32", "bf16"),
        *("--peak-size", "256", "--out", str(out)),  # a 2048 peak takes ~20 s in emulated bf16
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["reuse_freed_memory"] is (platform.libc_ver()[0] == "glibc")
    assert report["amp_auto"]["precision"] in ("fp32", "bf16")
    assert report["matmul_peak_size"] == 256
    assert "(best of 4 measurements each, 256 x 256)" in run.stdout
    records = report["records"]
    # The JSON contract: one record per (model, size, precision) with at least these keys.
    assert [(r["model"], r["size"], r["precision"]) for r in records] == [
        ("segnet-dmr", 192, "fp32"),
        ("segnet-dmr", 192, "bf16"),
        ("segnet-dmr", 32, "fp32"),
        ("segnet-dmr", 32, "bf16"),
    ]
    assert all(r["train_img_s"] > 0 for r in records)
    at_lvsc_size, bf16_at_lvsc_size, at_other_size, _ = records
    assert bf16_at_lvsc_size["speedup_vs_fp32"] == pytest.approx(
        bf16_at_lvsc_size["train_img_s"] / at_lvsc_size["train_img_s"]
    )
    assert at_lvsc_size["epoch_dataset"] == "lvsc"
    assert at_lvsc_size["epoch_images"] == 45_600  # 0.8 x 19,000 slices x (1 + 2 copies)
    assert at_lvsc_size["paper_titan_xp_min_per_epoch"] == 20.57  # Table I, DMR-SegNet, LVSC
    assert at_lvsc_size["train_min_per_epoch"] == pytest.approx(
        45_600 / at_lvsc_size["train_img_s"] / 60
    )
    assert at_lvsc_size["infer_ms_per_image_with_regularizer"] is not None
    assert 0 < at_lvsc_size["train_fraction_of_peak"]
    assert at_other_size["epoch_dataset"] is None
    assert "| segnet-dmr | 192 | bf16 |" in run.stdout


def test_data_throughput_reports_the_mode_dmr_train_chooses(tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "data_throughput.py"),
        *("--size", "32", "--slices", "60", "--epochs", "1", "--all-modes"),
        *("--work", str(tmp_path / "work"), "--out", str(out)),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    # 40 training slices (6 cases of 10, one validates, one tests) of 32 px fit in any RAM.
    assert report["mode"] == "host" and report["img_s"] > 0
    assert report["slices"] == 40 and report["size"] == 32 and report["distances"] is True
    modes = {r["mode"]: r for r in report["records"]}
    assert set(modes) == {"host", "disk", "read_batch"}
    assert modes["host"]["chosen"] and modes["host"]["img_s"] == report["img_s"]
    assert report["read_batch_img_s"] == modes["read_batch"]["img_s"]
    assert "| host (chosen) |" in run.stdout


def _run_folder(root: Path, dice: float, mad_last: float, sigma_ratio: float) -> Path:
    """A finished run's files as miniature_bounds.py reads them: one metrics CSV per model and a
    DMR history whose validation MAD goes 20 -> ``mad_last`` and sigma/L sits at the ratio."""
    results = root / "results" / "acdc"
    (results / "metrics").mkdir(parents=True)
    for model in ("unet-base", "unet-dmr"):
        pd.DataFrame({"dice": [dice, dice]}).to_csv(results / "metrics" / f"{model}.csv")
    epochs = range(1, 11)
    history = pd.DataFrame(
        {
            "epoch": list(epochs),
            "val_mad": [20.0 - (20.0 - mad_last) * (e - 1) / 9 for e in epochs],
            "sigma_ce_ratio": [0.3 if e < 3 else sigma_ratio for e in epochs],
            "sigma_mad_ratio": [1.0 for _ in epochs],
        }
    )
    fold = results / "models" / "unet-dmr" / "fold0"
    fold.mkdir(parents=True)
    history.to_csv(fold / "history.csv", index=False)
    return root


@pytest.mark.parametrize(
    ("dice", "mad_last", "sigma_ratio", "code"),
    [(0.85, 9.0, 1.1, 0), (0.79, 9.0, 1.1, 1), (0.85, 11.0, 1.1, 1), (0.85, 9.0, 1.3, 1)],
)
def test_miniature_bounds_fail_when_a_bound_fails(
    tmp_path: Path, dice: float, mad_last: float, sigma_ratio: float, code: int
) -> None:
    run = _run_folder(tmp_path, dice, mad_last, sigma_ratio)
    script = ROOT / "benchmarks" / "miniature_bounds.py"
    result = subprocess.run([sys.executable, str(script), str(run)], capture_output=True, text=True)
    assert result.returncode == code, result.stdout + result.stderr
    assert "1 DMR trainings (1 learned)" in result.stdout


def test_miniature_bounds_refuse_a_folder_without_a_run(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "miniature_bounds.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "not a finished run" in result.stderr
    assert str(tmp_path / "results") in result.stderr
