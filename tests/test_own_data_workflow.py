"""Your own data through the whole DAG: config/test_own_data.yaml runs an nnU-Net-format and an
M&Ms-format phantom dataset end to end (in-domain, held-out, across each other and
leave-one-vendor-out) and writes a results table and the per-region and per-group figures for
each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "test_own_data.yaml"
RESULTS = yaml.safe_load(CONFIG.read_text())["results"]

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("own_data")
    snakemake = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
    run = subprocess.run(
        [*snakemake, "--directory", str(workdir), "--cores", "2", "--configfile", str(CONFIG)],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    if run.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted(workdir.glob("**/logs/**/*.log"))
        )
        pytest.fail(f"snakemake failed:\n{run.stderr[-5000:]}\n{logs}")
    return workdir / RESULTS


def test_both_formats_are_checked_and_keep_what_they_know(own_run: Path) -> None:
    nnu = json.loads((own_run / "nnu" / "data_check.json").read_text())
    mnms = json.loads((own_run / "mnms" / "data_check.json").read_text())
    assert nnu["ok"] and mnms["ok"]
    assert {case["vendor"] for case in mnms["cases"]} == {"A", "B"}
    assert all({"ED", "ES"} <= set(case["phases"]) for case in nnu["cases"])


def test_leave_one_vendor_out_tests_each_vendor_with_networks_trained_on_the_other(
    own_run: Path,
) -> None:
    folds = pd.read_csv(own_run / "mnms" / "folds.csv")
    for fold, vendor in enumerate(["A", "B"]):
        rows = folds[folds["fold"] == fold]
        assert set(rows.loc[rows["split"] == "test", "group"]) == {vendor}
        assert vendor not in set(rows.loc[rows["split"] == "train", "group"])
    table = pd.read_csv(own_run / "tables" / "lovo_mnms.csv")
    assert table["vendor"].drop_duplicates().tolist() == ["A", "B"]
    metrics = pd.read_csv(own_run / "mnms" / "metrics" / "unet-dmr.csv")
    assert set(metrics["group"]) == {"A", "B"} and set(metrics["structure"]) == {"rv", "myo", "lv"}


def test_every_dataset_and_pair_has_its_results_table(own_run: Path) -> None:
    for name in ("results_nnu", "results_mnms", "cross_nnu_to_mnms", "cross_mnms_to_nnu"):
        table = pd.read_csv(own_run / "tables" / f"{name}.csv")
        assert table["structure"].drop_duplicates().tolist() == ["rv", "myo", "lv"], name
        cells = pd.read_csv(own_run / "stats" / f"{name}.csv", dtype={"replicated": str})
        dmr = cells[cells["method"] == "unet-dmr"]
        assert dmr["replicated"].str.fullmatch(r"[0-2]/2").all(), name
    each = pd.read_csv(own_run / "cross" / "nnu_to_mnms" / "metrics" / "folds" / "unet-dmr.csv")
    assert set(each["fold"]) == {0, 1}
    html = (own_run / "report.html").read_text()
    for section in ("results_nnu", "lovo_mnms", "cross_mnms_to_nnu"):
        assert f'id="{section}"' in html


def test_every_dataset_has_its_per_region_and_per_group_figures(own_run: Path) -> None:
    figures = own_run / "figures"
    html = (own_run / "report.html").read_text()
    for dataset in ("nnu", "mnms"):
        for kind in ("regions", "groups"):
            stem = f"{kind}_{dataset}"
            for ext in ("png", "pdf", "csv"):
                assert (figures / f"{stem}.{ext}").is_file(), f"{stem}.{ext}"
            assert f'id="{stem}"' in html, stem
    regions = pd.read_csv(figures / "regions_nnu.csv")
    assert set(regions["region"]) <= {"apical", "mid", "basal"}
    assert set(regions["model"]) == {"unet-base", "unet-dmr"}
    assert regions["unit"].str.endswith("mean Dice over rv, myo, lv").all()
    groups = pd.read_csv(figures / "groups_mnms.csv")
    assert groups["group"].drop_duplicates().tolist() == ["A", "B"]
    assert (groups["group_label"] == "vendor").all()
    assert "per vendor and base or DMR network" in html  # the shared caption, for M&Ms
    nnu = pd.read_csv(figures / "groups_nnu.csv", keep_default_na=False)
    assert (nnu["group"] != "").all()  # a case without a group counts under "all cases"


def test_held_out_splits_of_both_formats_are_scored(own_run: Path) -> None:
    for dataset in ("nnu", "mnms"):
        status = json.loads(
            (own_run / dataset / "heldout" / "metrics" / "unet-dmr.status.json").read_text()
        )
        assert status["references"] and status["split"] == "testing"
        metrics = pd.read_csv(own_run / dataset / "heldout" / "metrics" / "unet-dmr.csv")
        assert len(metrics) and metrics["dice"].between(0, 1).all()


def test_bad_reader_options_stop_the_dry_run_naming_the_key(tmp_path: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    config["datasets"]["nnu"]["reader"]["labels"]["RV"] = "right"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n"]
    run = subprocess.run(
        [*snakemake, "--directory", str(tmp_path), "--configfile", str(path)],
        capture_output=True,
        text=True,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "datasets.nnu.reader: reader.labels.RV: 'right' is not one of" in output
    assert "Traceback" not in output
