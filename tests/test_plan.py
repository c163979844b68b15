"""The rehearsal's plan: a constructed run's measurements projected to a constructed grid."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from dmr.cli import main
from dmr.report.plan import (
    REAL_LABELLED_SLICES,
    epoch_shape,
    fold_array_bytes,
    project_training,
    step_costs,
)
from dmr.report.plan_write import build_plan, plan_markdown

CONFIG = {
    "datasets": {
        "acdc": {
            "format": "acdc",
            "preprocess": {"size": 256, "frames": "ed_es"},
            "augment": {"copies": 4},
            "folds": {"k": 5, "val_fraction": 0.1, "test_fraction": 0.1},
            "training": {"epochs": 100},
        }
    },
    "models": ["unet-base", "unet-dmr"],
    "variants": {"base": {"loss": "ce"}, "dmr": {"loss": "dmr"}},
    "training": {"batch_size": 15, "data_memory_fraction": 0.5},
}


def _history(folder: Path, train_seconds: float, seconds: float) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "epoch": [1],
            "seconds": [seconds],
            "train_seconds": [train_seconds],
            "train_steps": [2],
            "val_batches": [2],
            "device": ["cpu"],
            "precision": ["fp32"],
        }
    ).to_csv(folder / "history.csv", index=False)


def _bench(path: Path, seconds: float, rss_mib: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t{rss_mib}\n")


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path]:
    """A finished rehearsal of CONFIG: 2 folds per model, 19.02 labelled slices (1 % of ACDC)."""
    results, resources = tmp_path / "results", tmp_path / "resources"
    for fold in (0, 1):
        _history(results / "acdc/models/unet-base" / f"fold{fold}", 20.0, 26.0)  # 10 s/step
        _history(results / "acdc/models/unet-dmr" / f"fold{fold}", 30.0, 38.0)  # 15 s/step
        _bench(results / f"benchmarks/acdc/train/unet-dmr_fold{fold}.tsv", 40.0, 2048.0)
    _bench(results / "benchmarks/acdc/preprocess.tsv", 36.0, 512.0)
    _bench(results / "benchmarks/acdc/predict/unet-dmr.tsv", 72.0, 1024.0)
    pre = results / "acdc" / "preprocessed"
    pre.mkdir(parents=True)
    pd.DataFrame({"index": range(100)}).to_csv(pre / "slices.csv", index=False)
    (pre / "images.npy").write_bytes(b"\0" * 1000)
    (resources / "acdc").mkdir(parents=True)
    (resources / "acdc" / "raw.nii.gz").write_bytes(b"\0" * 500)
    return results, resources


def test_epoch_shape_counts_the_training_share_with_its_copies() -> None:
    shape = epoch_shape(1000, k=5, val_fraction=0.1, test_fraction=0.1, copies=4, batch=15)
    assert shape.train_images == pytest.approx(1000 * 0.8 * 5)
    assert shape.steps == math.ceil(4000 / 15) and shape.val_batches == math.ceil(100 / 15)
    # Without test_fraction the K test folds partition the cases: a test share of 1/k.
    assert (
        epoch_shape(1000, k=4, val_fraction=0.1, test_fraction=None, copies=0, batch=10).steps == 65
    )


def test_step_costs_and_the_projected_training_hours(run) -> None:
    results, _ = run
    costs = step_costs(results, CONFIG)
    by_kind = costs.set_index("kind")
    assert by_kind.loc["unet-base", "s_per_step"] == pytest.approx(10.0)
    assert by_kind.loc["unet-dmr", "s_per_val_batch"] == pytest.approx(4.0)
    titan = {("acdc", "unet-dmr"): 4.85}
    rows = project_training(costs, CONFIG, titan).set_index("model")
    slices = REAL_LABELLED_SLICES[("acdc", "ed_es")]
    shape = epoch_shape(slices, k=5, val_fraction=0.1, test_fraction=0.1, copies=4, batch=15)
    minutes = (shape.steps * 15.0 + shape.val_batches * 4.0) / 60
    assert rows.loc["unet-dmr", "min_per_epoch"] == pytest.approx(minutes)
    assert rows.loc["unet-dmr", "hours"] == pytest.approx(minutes * 100 * 5 / 60)
    assert rows.loc["unet-dmr", "paper_titan_xp_min_per_epoch"] == 4.85


def test_the_plan_scales_data_jobs_and_disk_by_the_real_slices(run) -> None:
    results, resources = run
    plan = build_plan(results, resources, CONFIG, CONFIG, "paper.yaml")
    ratio = REAL_LABELLED_SLICES[("acdc", "ed_es")] / 100
    assert plan["scale"]["acdc"] == pytest.approx(ratio)
    assert plan["hours"]["other_jobs"] == pytest.approx((36.0 + 72.0) * ratio / 3600)
    assert plan["hours"]["total"] == pytest.approx(
        plan["hours"]["training"] + plan["hours"]["other_jobs"]
    )
    disk = {r["stage"]: r for r in plan["disk"]}
    held = sum(f.stat().st_size for f in (results / "acdc" / "preprocessed").iterdir())
    assert disk["preprocessed"]["bytes"] == held
    assert disk["preprocessed"]["projected_bytes"] == pytest.approx(held * ratio)
    assert disk["raw data"]["projected_bytes"] == pytest.approx(500 * ratio)
    train = next(r for r in plan["memory"] if r["stage"] == "train")
    assert train["peak_rss_gib"] == pytest.approx(2.0)
    shape = epoch_shape(1902, k=5, val_fraction=0.1, test_fraction=0.1, copies=4, batch=15)
    arrays = fold_array_bytes(shape.train_images + shape.val_images, 256, 3, distances=True)
    in_ram = train["projected_peak_rss_gib"] == pytest.approx(2.0 + arrays / 1024**3)
    assert in_ram or "streamed" in train["note"]
    text = plan_markdown(plan)
    assert "| acdc | unet-dmr | 256 |" in text and "4.85" in text


def test_dmr_plan_writes_both_files_and_refuses_a_run_without_histories(run, tmp_path) -> None:
    results, resources = run
    config, target = tmp_path / "config.json", tmp_path / "paper.yaml"
    config.write_text(json.dumps(CONFIG))
    target.write_text(json.dumps(CONFIG))  # JSON is YAML
    out = tmp_path / "plan.md"
    args = ["plan", "--config", str(config), "--target", str(target)]
    args += ["--results", str(results), "--resources", str(resources)]
    assert main([*args, "-o", str(out), "--json", str(tmp_path / "plan.json")]) == 0
    assert out.read_text().startswith("# Plan of `paper.yaml`")
    assert json.loads((tmp_path / "plan.json").read_text())["hours"]["training"] > 0
    empty = tmp_path / "empty"
    args = ["plan", "--config", str(config), "--target", str(target), "--results", str(empty)]
    assert (
        main(
            [
                *args,
                "--resources",
                str(resources),
                "-o",
                str(tmp_path / "x.md"),
                "--json",
                str(tmp_path / "x.json"),
            ]
        )
        == 1
    )
    assert not (tmp_path / "x.md").exists()


def test_dmr_plan_names_a_corrupt_config_and_writes_nothing(run, tmp_path) -> None:
    results, resources = run
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    out = tmp_path / "plan.md"
    args = ["plan", "--config", str(bad), "--target", str(bad), "--results", str(results)]
    args += ["--resources", str(resources), "-o", str(out), "--json", str(tmp_path / "p.json")]
    assert main(args) == 1
    assert not out.exists() and not (tmp_path / "p.json").exists()
