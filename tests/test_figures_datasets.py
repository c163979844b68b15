"""Figs. 4 and 5 for data the paper lacks: structures and groups taken from the metric rows, the
plotted table with its intervals, the files written, and their report sections' captions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dmr.cli import main
from dmr.errors import InputError
from dmr.figures import datasets
from dmr.figures.io import figure_paths
from dmr.figures.summaries import METHOD
from dmr.report.captions import render_caption
from dmr.report.context import (
    _figure_order,
    caption_path,
    caption_wildcards,
    figure_title,
    read_figure,
)

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = ROOT / "workflow" / "report"
MODELS = ("unet-base", "unet-dmr")
REGIONS = ("apical", "mid", "basal")


def _ids(dataset: str, model: str, case: str, group: str | None, phase: str) -> dict:
    return {"dataset": dataset, "model": model, "arch": "unet",
            "variant": model.partition("-")[2], "fold": 0, "case": case,
            "group": group, "phase": phase}  # fmt: skip


def _metrics(dataset: str, groups: dict[str, str | None], structures=("lv", "myo")) -> pd.DataFrame:
    """Per-case rows: every case (-> its group) x ED/ES x structure, Dice made up but distinct."""
    rows = []
    for m, model in enumerate(MODELS):
        for c, (case, group) in enumerate(groups.items()):
            for p, phase in enumerate(("ED", "ES")):
                for s, structure in enumerate(structures):
                    dice = 0.5 + 0.1 * m + 0.03 * c + 0.02 * p + 0.01 * s
                    rows.append(
                        {
                            **_ids(dataset, model, case, group, phase),
                            "structure": structure,
                            "dice": dice,
                        }
                    )
    return pd.DataFrame(rows)


def _slices(dataset: str, structures=("myo", "lv", "rv")) -> pd.DataFrame:
    rows = []
    for m, model in enumerate(MODELS):
        for c, case in enumerate(("p1", "p2")):
            for z, region in enumerate(REGIONS):
                for structure in structures:
                    rows.append(
                        {
                            **_ids(dataset, model, case, None, "ED"),
                            "slice": z,
                            "region": region,
                            "structure": structure,
                            "tp": 0,
                            "fp": 0,
                            "fn": 0,
                            "tn": 0,
                            "dice": 0.4 + 0.1 * m + 0.05 * c + 0.1 * z,
                        }
                    )
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for model, rows in frame.groupby("model"):
        path = folder / f"{model}.csv"
        rows.to_csv(path, index=False)
        paths.append(path)
    return paths


def test_groups_are_the_values_of_the_group_column_sorted() -> None:
    metrics = _metrics("mnms", {"c1": "B", "c2": "A", "c3": "B", "c4": "A"})
    table = datasets.dataset_group_table(metrics, group_label="vendor", n_resamples=199, seed=0)
    assert table[["model", "group"]].values.tolist() == [
        ["unet-base", "A"], ["unet-base", "B"], ["unet-dmr", "A"], ["unet-dmr", "B"]
    ]  # fmt: skip
    assert (table["n"] == 4).all()  # two cases x two phases per vendor
    assert (table["group_label"] == "vendor").all() and (table["method"] == METHOD).all()
    # The unit is the mean over the structures the rows hold, in the order RV, myo, LV.
    assert table["unit"].iloc[0].endswith("mean Dice over myo, lv")
    volumes = metrics.groupby(["model", "group", "case", "phase"])["dice"].mean()
    assert table.loc[0, "mean"] == pytest.approx(volumes["unet-base"]["A"].mean())
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()


def test_without_groups_every_model_has_one_point_over_all_cases() -> None:
    table = datasets.dataset_group_table(
        _metrics("nnu", {"c1": None, "c2": None, "c3": None}), n_resamples=199, seed=0
    )
    assert table[["model", "group", "n"]].values.tolist() == [
        ["unet-base", datasets.ALL_CASES, 6], ["unet-dmr", datasets.ALL_CASES, 6]
    ]  # fmt: skip
    mixed = datasets.dataset_group_table(
        _metrics("nnu", {"c1": "A", "c2": None}), n_resamples=99, seed=0
    )
    assert list(dict.fromkeys(mixed["group"])) == ["A", datasets.NO_GROUP]
    # Read back from a CSV, groups with gaps are floats: 3.0 is group "3".
    gaps = _metrics("nnu", {"c1": 3.0, "c2": float("nan")})
    table = datasets.dataset_group_table(gaps, n_resamples=99, seed=0)
    assert list(dict.fromkeys(table["group"])) == ["3", datasets.NO_GROUP]


def test_numeric_groups_sort_as_numbers_and_one_dataset_is_required() -> None:
    table = datasets.dataset_group_table(
        _metrics("x", {"c1": "10", "c2": "2", "c3": "10"}), n_resamples=99, seed=0
    )
    assert list(dict.fromkeys(table["group"])) == ["2", "10"]
    both = pd.concat([_metrics("a", {"c1": "A"}), _metrics("b", {"c1": "A"})])
    with pytest.raises(InputError, match="one dataset"):
        datasets.dataset_group_table(both, n_resamples=99, seed=0)
    with pytest.raises(InputError, match="unknown structure"):
        datasets.dataset_group_table(
            _metrics("x", {"c1": "A"}, ("lv", "aorta")), n_resamples=99, seed=0
        )


def test_regional_table_uses_the_structures_of_the_slice_rows() -> None:
    table = datasets.dataset_regional_table(_slices("nnu", ("lv", "myo")), n_resamples=199, seed=0)
    assert table["region"].tolist() == list(REGIONS) * 2
    assert table["unit"].iloc[0].endswith("mean Dice over myo, lv")
    assert table.loc[0, "n"] == 2 and table.loc[0, "mean"] == pytest.approx(0.425)


def test_both_figures_write_png_pdf_csv_from_the_command_line(tmp_path: Path) -> None:
    slices = _write(_slices("nnu"), tmp_path / "slices")
    prefix = tmp_path / "figures" / "regions_nnu"
    argv = ["figure", "regions", "--slices", *map(str, slices), "--title", "nnu: Dice per slice"]
    assert main([*argv, "--n-resamples", "99", "--seed", "3", "--out-prefix", str(prefix)]) == 0
    paths = figure_paths(prefix)
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    regions = pd.read_csv(paths["csv"])
    assert regions["region"].tolist() == list(REGIONS) * 2
    assert (regions["n_resamples"] == 99).all() and (regions["seed"] == 3).all()
    assert (regions["ci_low"] <= regions["ci_high"]).all()
    assert regions["unit"].iloc[0].endswith("mean Dice over rv, myo, lv")

    metrics = _write(_metrics("mnms", {"c1": "A", "c2": "B", "c3": "A", "c4": "B"}), tmp_path / "m")
    prefix = tmp_path / "figures" / "groups_mnms"
    argv = ["figure", "groups", "--metrics", *map(str, metrics), "--group-label", "vendor"]
    assert main([*argv, "--n-resamples", "99", "--out-prefix", str(prefix)]) == 0
    groups = pd.read_csv(figure_paths(prefix)["csv"])
    assert groups["group"].tolist() == ["A", "B", "A", "B"]
    assert set(groups.columns) >= {"dataset", "model", "label", "group", "group_label", "mean",
                                   "ci_low", "ci_high", "n", "unit"}  # fmt: skip
    assert figure_paths(prefix)["png"].is_file() and figure_paths(prefix)["pdf"].is_file()


def test_the_report_captions_and_titles_of_the_dataset_figures(tmp_path: Path) -> None:
    assert caption_path("regions_nnu", CAPTIONS).name == "dataset_regions.rst"
    assert caption_path("groups_mnms", CAPTIONS).name == "dataset_groups.rst"
    assert caption_wildcards("groups_mnms") == {"dataset": "mnms"}
    assert caption_wildcards("fig5") is None
    assert figure_title("regions_nnu") == "nnu: Dice per slice region"
    assert figure_title("groups_mnms") == "mnms: Dice per group"
    config = {
        "datasets": {
            "nnu": {"format": "nnunet", "reader": {}},
            "mnms": {"format": "mnms", "reader": {"group": "vendor"}},
        },
        "stats": {"bootstrap_resamples": 199, "seed": 0},
    }

    def text(stem: str) -> str:
        path = caption_path(stem, CAPTIONS)
        paragraphs = render_caption(path, config, caption_wildcards(stem))
        return " ".join(t for paragraph in paragraphs for _, t in paragraph)

    groups = text("groups_mnms")
    assert "mnms (mnms format)" in groups and "per vendor" in groups and "{{" not in groups
    assert "groups_mnms.csv" in groups and "199 resamples, seed 0" in groups
    nnu = text("groups_nnu")
    assert "per group" in nnu and "vendor" not in nnu
    regions = text("regions_nnu")
    assert "nnu (nnunet format)" in regions and "regions_nnu.csv" in regions
    png = tmp_path / "groups_mnms.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    section = read_figure(png, CAPTIONS, config)
    assert section.id == "groups_mnms" and section.title == "mnms: Dice per group"
    stems = ["groups_nnu", "phantoms_x", "regions_nnu", "figS4", "groups_mnms", "regions_mnms"]
    assert sorted(stems, key=_figure_order) == [
        "figS4", "regions_mnms", "groups_mnms", "regions_nnu", "groups_nnu", "phantoms_x"
    ]  # fmt: skip
