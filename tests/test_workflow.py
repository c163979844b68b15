"""The Snakemake workflow: lint, dry runs, config validation, and a tiny end-to-end run of
config/test.yaml (phantoms -> checks -> preprocessing -> training -> metrics -> tables)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch
import yaml

from dmr.cli import main
from dmr.published.claims import CLAIM_STATUSES

ROOT = Path(__file__).resolve().parents[1]

#: config/test.yaml's own output folders (it keeps its run beside the default's).
_TEST_YAML = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
RESULTS, RESOURCES = _TEST_YAML["results"], _TEST_YAML["resources"]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]

pytestmark = pytest.mark.workflow


def _snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(cwd), *args], capture_output=True, text=True, cwd=cwd
    )


def test_lint_is_clean(tmp_path: Path) -> None:
    run = _snakemake("--lint", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "good condition" in run.stdout + run.stderr


def _paper_data(cwd: Path) -> None:
    """Empty stand-ins for the user's LVSC folders config/paper.yaml points at (a dry run reads
    nothing in them, but refuses to plan without them)."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["datasets"]["lvsc"]
    for folder in (paper["path"], paper["heldout"]["references"]):
        (cwd / folder).mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("configfile", ["config.yaml", "paper.yaml", "test.yaml", "rehearsal.yaml"])
def test_dry_run_builds_the_whole_dag(configfile: str, tmp_path: Path) -> None:
    _paper_data(tmp_path)
    run = _snakemake("-n", "--configfile", str(ROOT / "config" / configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    for rule in ("check_data", "preprocess", "train", "predict_cv", "metrics", "table2a", "fig5"):
        assert rule in run.stdout
    for rule in ("table2b", "table4", "table6a", "table6b", "report_config", "report"):
        assert rule in run.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unknown_key": 1}, "unknown_key: unknown key; known keys: cross, datasets"),
        ({"training": {"epochs": 0}}, "0 is less than the minimum of 1"),
        ({"models": ["resnet-base"]}, "models[0]: 'resnet-base' does not match"),
        (
            {"datasets": {"acdc": {"format": "acdc", "source": "path"}}},
            "datasets.acdc: 'path' is a required property",
        ),
        (
            {"tables": {"acdc": "acdc", "lvsc": "nope"}},
            "config tables.lvsc: 'nope' is not a dataset of format 'lvsc'",
        ),
        ({"stats": {"bootstrap_resamples": 5}}, "5 is less than the minimum of 99"),
        (
            {"datasets": {"acdc": {"format": "acdc", "training": {"by_arch": {"vgg": {}}}}}},
            "datasets.acdc.training.by_arch.vgg: unknown key; known keys: segnet, unet, usegnet",
        ),
        (
            {
                "datasets": {
                    "acdc": {"format": "acdc", "training": {"by_arch": {"unet": {"by_arch": {}}}}}
                }
            },
            "datasets.acdc.training.by_arch.unet.by_arch: not allowed here",
        ),
    ],
)
def test_schema_rejects_bad_config(change: dict, message: str, tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config.update(change)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "--configfile", str(bad), cwd=tmp_path)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr


def test_a_config_error_is_one_line_with_its_key_path_and_file(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["training"]["epocs"] = 5
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "--configfile", str(bad), cwd=tmp_path)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert f"training.epocs: unknown key; did you mean epochs? (from {bad})" in out
    # One line for the problem, not the schema subtree and the whole config.
    assert len(out.splitlines()) < 12, out
    assert not (tmp_path / RESULTS).exists()


def test_a_dry_run_catches_a_missing_dataset_folder(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["datasets"]["acdc"] |= {"source": "path", "path": "data/ACDC/database"}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "datasets.acdc.path: folder data/ACDC/database not found" in out
    assert "creatis.insa-lyon.fr" in out and "source: download" in out
    (tmp_path / "data" / "ACDC" / "database").mkdir(parents=True)
    run = _snakemake("-n", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_configfile_is_complete_on_its_own(tmp_path: Path) -> None:
    """A --configfile does not inherit config/config.yaml's keys: what it leaves out takes the
    schema's default (sigma_lr_scale 1, not the miniature's 10), and its outputs go to its own
    folders (config/test.yaml: results/test)."""
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    del config["training"]["sigma_lr_scale"]
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "-p", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(_train_option(run, "--sigma-lr-scale").values()) == {"1"}
    commands = [
        line.partition("Shell command: ")[2]
        for line in (run.stdout + run.stderr).splitlines()
        if "Shell command: dmr train " in line
    ]
    assert commands and all(f" -o {RESULTS}/" in c for c in commands)


@pytest.mark.parametrize("reuse", [True, False])
def test_memory_switches_reach_training_and_inference_jobs(reuse: bool, tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["training"] |= {"reuse_freed_memory": reuse, "checkpoint_activations": not reuse}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "-p", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    # Snakemake 9 prints "Shell command: dmr ..." for each job.
    commands = [
        line.partition("Shell command: ")[2] for line in (run.stdout + run.stderr).splitlines()
    ]
    jobs = [c for c in commands if c.startswith(("dmr train ", "dmr predict-cv "))]
    assert {c.split()[1] for c in jobs} == {"train", "predict-cv"}
    reuse_flag = "--reuse-freed-memory" if reuse else "--no-reuse-freed-memory"
    assert all(reuse_flag in c.split() for c in jobs)
    recompute_flag = "--no-checkpoint-activations" if reuse else "--checkpoint-activations"
    assert all(recompute_flag in c.split() for c in jobs if c.startswith("dmr train "))


def _train_option(run: subprocess.CompletedProcess[str], option: str) -> dict[tuple[str, str], str]:
    """(dataset, model) -> the value of ``option`` in every `dmr train` job `-n -p` printed."""
    commands = [
        line.partition("Shell command: ")[2].split()
        for line in (run.stdout + run.stderr).splitlines()
    ]
    return {
        (
            Path(words[words.index("--preprocessed") + 1]).parent.name,
            words[words.index("--model-name") + 1],
        ): words[words.index(option) + 1]
        for words in commands
        if words[:2] == ["dmr", "train"]
    }


def test_paper_config_trains_every_network_as_long(tmp_path: Path) -> None:
    """config/paper.yaml is complete on its own: nothing of config/config.yaml (SegNet's longer
    schedule, recomputed BatchNorm statistics, 10x sigma learning rate) reaches the paper's grid,
    which trains every network 100 (ACDC) / 30 (LVSC) epochs with the paper's lr decay,
    PyTorch's running averages and Eq. 7's sigmas at the network's learning rate."""
    _paper_data(tmp_path)
    run = _snakemake("-n", "-p", "--configfile", str(ROOT / "config" / "paper.yaml"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(_train_option(run, "--sigma-lr-scale").values()) == {"1"}
    epochs = _train_option(run, "--epochs")
    assert any(model.startswith("segnet-") for _, model in epochs)
    assert {e for (dataset, _), e in epochs.items() if dataset == "acdc"} == {"100"}
    assert {e for (dataset, _), e in epochs.items() if dataset == "lvsc"} == {"30"}
    assert set(_train_option(run, "--lr-decay").values()) == {"0.99"}
    assert set(_train_option(run, "--bn-stats-slices").values()) == {"0"}


def _job_counts(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """Rule -> jobs, from the "Job stats" table of a dry run."""
    stats = (run.stdout + run.stderr).partition("Job stats:")[2].partition("total")[0]
    return {
        words[0]: int(words[1])
        for words in (line.split() for line in stats.splitlines())
        if len(words) == 2 and words[1].isdigit()
    }


def test_the_rehearsal_runs_every_job_of_the_paper_grid_with_a_step_cap(tmp_path: Path) -> None:
    """config/rehearsal.yaml plans the same jobs as config/paper.yaml (phantoms instead of the
    download and the user's LVSC, plus its plan), trains with the paper's settings for one
    capped epoch, and inherits nothing from config/config.yaml."""
    _paper_data(tmp_path)
    paper = _snakemake("-n", "--configfile", str(ROOT / "config" / "paper.yaml"), cwd=tmp_path)
    rehearsal = _snakemake(
        "-n", "-p", "--configfile", str(ROOT / "config" / "rehearsal.yaml"), cwd=tmp_path
    )
    assert paper.returncode == 0 and rehearsal.returncode == 0, rehearsal.stderr[-3000:]
    paper_jobs, rehearsal_jobs = _job_counts(paper), _job_counts(rehearsal)
    assert paper_jobs.pop("download") == 1 and rehearsal_jobs.pop("phantoms") == 2
    assert rehearsal_jobs.pop("plan") == 1
    assert paper_jobs == rehearsal_jobs
    assert rehearsal_jobs["train"] == 90
    for option, value in [
        ("--max-steps-per-epoch", "1"),
        ("--epochs", "1"),
        ("--sigma-lr-scale", "1"),
        ("--bn-stats-slices", "0"),
        ("--batch-size", "15"),
        ("--width", "32"),
    ]:
        assert set(_train_option(rehearsal, option).values()) == {value}, option
    assert "results/rehearsal/plan.md" in rehearsal.stdout + rehearsal.stderr


def test_arch_overrides_set_the_epochs_of_both_versions_of_one_architecture(
    tmp_path: Path,
) -> None:
    """`datasets.<name>.training.by_arch.<arch>` wins over the dataset's own keys, for the
    base and the DMR version of that architecture alike, on that dataset only."""
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["models"] = ["segnet-base", "segnet-dmr", "unet-base", "unet-dmr"]
    acdc, other = "acdc", next(name for name in config["datasets"] if name != "acdc")
    config["datasets"][acdc]["training"] = {"epochs": 3, "by_arch": {"segnet": {"epochs": 7}}}
    config["datasets"][other]["training"]["epochs"] = 2  # test.yaml's by_arch: segnet 2
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "-p", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    epochs = _train_option(run, "--epochs")
    assert epochs[(acdc, "segnet-base")] == epochs[(acdc, "segnet-dmr")] == "7"
    assert epochs[(acdc, "unet-base")] == epochs[(acdc, "unet-dmr")] == "3"
    assert {epochs[(other, m)] for m in config["models"]} == {"2"}


def test_the_default_gives_segnet_two_augmented_copies_and_refuses_more_than_written(
    tmp_path: Path,
) -> None:
    """config/config.yaml writes two augmented copies per dataset; SegNet and DMR-SegNet train
    on both, the U-Net family on the first. A training that asks for more copies than its
    dataset writes stops the dry run with the dataset and architecture named."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "-p", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    copies = _train_option(run, "--augmented-copies")
    assert len(copies) == 2 * len(config["models"])
    assert {c for (_, m), c in copies.items() if m.startswith("segnet-")} == {"2"}
    assert {c for (_, m), c in copies.items() if not m.startswith("segnet-")} == {"1"}
    config["datasets"]["lvsc"]["augment"]["copies"] = 1
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode != 0
    assert (
        "datasets.lvsc: segnet trains on 2 augmented copies (`augmented_copies`) but "
        "`augment.copies` writes 1" in run.stdout + run.stderr
    )


@pytest.mark.parametrize(("slots", "gpu", "fraction"), [(1, 1, "0.5"), (4, 0, "0.1")])
def test_gpu_slots_share_a_gpu_and_its_memory(slots, gpu, fraction, tmp_path: Path) -> None:
    """N jobs per GPU: each requests a gpu_slot (and no whole GPU when N > 1) and may fill
    1/N of the data memory budget; amp and data_on_device reach the jobs."""
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["training"] |= {
        "device": "cuda",
        "gpu_slots": slots,
        "amp": "auto",
        "data_on_device": False,
        "data_memory_fraction": 0.4 if slots > 1 else 0.5,
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = _snakemake("-n", "-p", "--configfile", str(configfile), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = (run.stdout + run.stderr).splitlines()
    commands = [line.partition("Shell command: ")[2] for line in lines]
    train = [c.split() for c in commands if c.startswith("dmr train ")]
    predict = [
        c.split() for c in commands if c.startswith(("dmr predict-cv ", "dmr predict-split "))
    ]
    assert train and predict
    for words in train:
        for option, value in (
            ("--amp", "auto"),
            ("--data-on-device", "false"),
            ("--data-memory-fraction", fraction),
        ):
            assert words[words.index(option) + 1] == value
    # Predictions run in the precision each model trained in, whatever training.amp says.
    assert all(words[words.index("--amp") + 1] == "trained" for words in predict)
    gpu_jobs = [line for line in lines if "gpu_slot=" in line]
    assert len(gpu_jobs) == len(train) + len(predict)
    assert all(f"gpu={gpu}," in line and "gpu_slot=1" in line for line in gpu_jobs)


def test_snakefiles_are_formatted() -> None:
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    run = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_python_is_lint_and_format_clean() -> None:
    for args in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "src", "tests", "benchmarks"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_end_to_end_writes_every_table_and_figure(test_run: Path) -> None:
    results = test_run / RESULTS
    for name in ("table1", "table2a", "table2b", "table4", "table6a", "table6b"):
        for ext in ("csv", "md", "tex", "html"):
            assert (results / "tables" / f"{name}.{ext}").stat().st_size > 0
        cells = pd.read_csv(results / "stats" / f"{name}.csv")
        assert len(cells) and {"value", "ci_low", "ci_high", "n", "p_value"} <= set(cells.columns)
    for dataset in ("acdc", "lvsc"):
        assert (results / "figures" / f"phantoms_{dataset}.png").stat().st_size > 10_000
        assert json.loads((results / dataset / "data_check.json").read_text())["ok"] is True
    # Every paper figure its models allow (Fig. 7 needs a threshold ablation besides unet-dmr).
    models = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())["models"]
    figures = [
        "fig1",
        "fig4a",
        "fig4b",
        "fig5",
        "fig6",
        "figS1",
        "figS2",
        "figS3",
        "figS4",
        "figS5",
    ]
    if {"unet-dmr_t5", "unet-dmr_t60"} & set(models):
        figures.append("fig7")
    for name in figures:
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 5_000, name
    for name in ("fig4a", "fig4b", "fig5", "fig6", "figS4"):
        table = pd.read_csv(results / "figures" / f"{name}.csv")
        assert (table["n"] > 0).all() and (table["ci_low"] <= table["ci_high"]).all(), name
        assert set(table["method"]) == {"percentile bootstrap of the mean (scipy.stats.bootstrap)"}
    assert "n" in pd.read_csv(results / "figures" / "figS5.csv").columns
    fig5 = pd.read_csv(results / "figures" / "fig5.csv")
    assert {"model", "group", "mean", "ci_low", "ci_high", "n"} <= set(fig5.columns)
    assert set(fig5["model"]) == {"unet-base", "unet-dmr"}


def test_end_to_end_metrics_are_in_range(test_run: Path) -> None:
    metrics = pd.read_csv(test_run / RESULTS / "acdc" / "metrics" / "unet-dmr.csv")
    required = {"dataset", "model", "arch", "variant", "fold", "case", "phase", "structure"}
    assert required | {"dice", "jaccard", "msd_mm", "hd_mm"} <= set(metrics.columns)
    assert set(metrics["structure"]) == {"rv", "myo", "lv"}
    assert set(metrics["phase"]) == {"ED", "ES"}
    assert metrics["dice"].between(0, 1).all()
    assert (metrics["jaccard"] <= metrics["dice"] + 1e-12).all()
    assert (metrics["hd_mm"].dropna() >= metrics["msd_mm"].dropna().min()).all()
    # Every training case is predicted exactly once per phase and structure (each in one test fold).
    folds = pd.read_csv(test_run / RESULTS / "acdc" / "folds.csv")
    tested = folds[folds["split"] == "test"]
    assert sorted(metrics["case"].unique()) == sorted(tested["case"].unique())
    assert len(metrics) == len(tested) * 2 * 3


def test_dmr_predict_labels_a_case_as_the_workflow_did(test_run: Path, tmp_path: Path) -> None:
    """A user's `dmr predict` of a test case gives the workflow's own prediction of it, voxel for
    voxel: both run the model in the precision it trained in (bf16 in config/test.yaml)."""
    folds = pd.read_csv(test_run / RESULTS / "acdc" / "folds.csv")
    tested = folds[folds["split"] == "test"].iloc[0]
    case, fold = tested["case"], int(tested["fold"])
    folder = test_run / RESOURCES / "acdc" / "training" / case
    ed = int(re.search(r"^ED:\s*(\d+)", (folder / "Info.cfg").read_text(), re.M).group(1))
    model = test_run / RESULTS / "acdc" / "models" / "unet-dmr" / f"fold{fold}" / "model.pt"
    assert torch.load(model, weights_only=True)["precision"] == "bf16"
    out = tmp_path / "ed.nii.gz"
    argv = ["predict", "--model", str(model), str(folder / f"{case}_frame{ed:02d}.nii.gz")]
    assert main([*argv, "-o", str(out)]) == 0
    workflow = test_run / RESULTS / "acdc" / "predictions" / "unet-dmr" / "volumes"
    ours = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    theirs = sitk.GetArrayFromImage(sitk.ReadImage(str(workflow / f"{case}_ED.nii.gz")))
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_a_smoke_run_judges_no_claim(test_run: Path) -> None:
    """config/test.yaml's models learn nothing in 2 epochs: no claim may hold or be refuted."""
    summary = json.loads((test_run / RESULTS / "tables" / "paper_vs_reproduced.json").read_text())
    statuses = {claim["name"]: claim["status"] for claim in summary["claims"]}
    assert set(statuses.values()) <= set(CLAIM_STATUSES)
    assert not {"holds", "contradicted"} & set(statuses.values()), statuses
    assert statuses["DMR better than its baseline, Table II(a)"] == "not meaningful"
    html = (test_run / RESULTS / "report.html").read_text()
    assert 'class="banner smoke-run"' in html
    # A --configfile is complete on its own: the header names it alone.
    assert "<dt>Config</dt><dd><code>config/test.yaml</code></dd>" in html


def test_end_to_end_table2a_has_paper_rows(test_run: Path) -> None:
    text = (test_run / RESULTS / "tables" / "table2a.md").read_text()
    for row in ("Dice (%)", "Jaccard (%)", "MSD (mm)", "HD (mm)"):
        assert row in text


def test_snakemake_report_holds_every_table_and_figure_with_its_caption(
    test_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "snakemake-report.html"
    run = _snakemake(
        "--configfile", str(ROOT / "config" / "test.yaml"), "--report", str(out), cwd=test_run
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # docutils warnings mean a caption or category link that does not render as written (a
    # category named like Snakemake's own "Statistics" panel made its link ambiguous).
    assert "(WARNING/" not in run.stdout + run.stderr, run.stderr[-3000:]
    text = out.read_text()
    results = test_run / RESULTS
    for path in [*results.glob("tables/table*.csv"), *results.glob("figures/*.png")]:
        assert path.name in text, path.name
    for caption in ("Table II(a) of the paper", "Fig. 5 of the paper", "999 resamples"):
        assert caption in text


def test_rerun_has_nothing_to_do(test_run: Path) -> None:
    run = _snakemake("-n", "--configfile", str(ROOT / "config" / "test.yaml"), cwd=test_run)
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr
