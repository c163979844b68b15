"""Figs. 4-7: units, grouping and bootstrap CIs of the plotted tables, and the files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dmr.cli import main
from dmr.errors import InputError
from dmr.figures import dice
from dmr.figures.io import figure_paths
from dmr.figures.summaries import METHOD, slice_dice, summarize, volume_dice

IDS = {"dataset": "acdc", "arch": "unet", "fold": 0, "phase": "ED"}


def _slice_rows(model: str, case: str, rows: list[tuple[int, str, str, float]]) -> list[dict]:
    """(slice, region, structure, dice) -> rows of the per-slice metric table."""
    variant = model.partition("-")[2]
    return [
        {**IDS, "model": model, "variant": variant, "case": case, "group": "NOR", "slice": z,
         "region": region, "structure": s, "tp": 0, "fp": 0, "fn": 0, "tn": 0, "dice": d}
        for z, region, s, d in rows
    ]  # fmt: skip


def _metric_rows(model: str, volumes: dict[tuple[str, str, str], float], structures) -> list:
    """(case, group, phase) -> one Dice shared by every structure of that volume."""
    variant = model.partition("-")[2]
    return [
        {"dataset": IDS["dataset"], "model": model, "arch": "unet", "variant": variant,
         "fold": 0, "case": case, "group": group, "phase": phase, "structure": s, "dice": d}
        for (case, group, phase), d in volumes.items()
        for s in structures
    ]  # fmt: skip


def test_interval_is_scipy_percentile_bootstrap_of_the_mean() -> None:
    sample = np.array([0.91, 0.85, 0.78, 0.95, 0.88, 0.69, 0.93, 0.9])
    table = summarize(
        pd.DataFrame({"model": "unet-dmr", "dice": sample}),
        ["model"],
        "dice",
        n_resamples=999,
        seed=7,
    )
    direct = stats.bootstrap(
        (sample,),
        np.mean,
        n_resamples=999,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(7),
    ).confidence_interval
    row = table.iloc[0]
    assert row["mean"] == pytest.approx(sample.mean())
    assert (row["ci_low"], row["ci_high"]) == (direct.low, direct.high)
    assert (row["n"], row["n_resamples"], row["seed"], row["method"]) == (8, 999, 7, METHOD)


def test_a_single_value_has_no_interval_and_nan_is_refused() -> None:
    one = summarize(pd.DataFrame({"g": ["a"], "v": [0.5]}), ["g"], "v", n_resamples=99, seed=0)
    assert one.loc[0, "n"] == 1 and np.isnan(one.loc[0, "ci_low"])
    with pytest.raises(InputError, match="NaN"):
        summarize(pd.DataFrame({"g": ["a", "a"], "v": [0.5, np.nan]}), ["g"], "v",
                  n_resamples=99, seed=0)  # fmt: skip


def test_slice_unit_is_the_mean_over_structures_and_empty_slices_count_as_one() -> None:
    rows = _slice_rows(
        "unet-dmr",
        "p1",
        [
            # slice 0 beyond the apex: no structure in reference or prediction -> Dice 1 each
            (0, "apical", "rv", 1.0), (0, "apical", "myo", 1.0), (0, "apical", "lv", 1.0),
            (1, "apical", "rv", 0.0), (1, "apical", "myo", 0.6), (1, "apical", "lv", 0.9),
            (2, "mid", "rv", 0.8), (2, "mid", "myo", 0.7), (2, "mid", "lv", 0.9),
            (3, "basal", "rv", 0.5), (3, "basal", "myo", 0.4), (3, "basal", "lv", 0.6),
        ],
    )  # fmt: skip
    units = slice_dice(pd.DataFrame(rows), ("rv", "myo", "lv"), "hand-made")
    assert units.set_index("slice")["dice"].round(12).to_dict() == {
        0: 1.0, 1: 0.5, 2: 0.8, 3: 0.5,
    }  # fmt: skip
    table = dice.regional_table(pd.DataFrame(rows), ("rv", "myo", "lv"), n_resamples=99, seed=0)
    assert table["region"].tolist() == ["apical", "mid", "basal"]
    assert table["n"].tolist() == [2, 1, 1]
    assert table["mean"].round(12).tolist() == [0.75, 0.8, 0.5]
    myo = dice.regional_table(pd.DataFrame(rows), ("myo",), n_resamples=99, seed=0)
    assert myo["mean"].round(12).tolist() == [0.8, 0.7, 0.4]
    assert (table["empty_slices"].str.contains("Dice 1")).all()


def test_slice_lacking_a_structure_is_an_error() -> None:
    rows = pd.DataFrame(
        _slice_rows("unet-dmr", "p1", [(0, "mid", "rv", 1.0), (0, "mid", "lv", 1.0)])
    )
    with pytest.raises(InputError, match="lack some of"):
        slice_dice(rows, ("rv", "myo", "lv"), "hand-made")


def test_group_table_has_one_point_per_model_and_group_in_paper_order() -> None:
    structures = ("rv", "myo", "lv")
    volumes = {
        ("p1", "NOR", "ED"): 0.9, ("p1", "NOR", "ES"): 0.8, ("p2", "DCM", "ED"): 0.7,
        ("p2", "DCM", "ES"): 0.5, ("p3", "DCM", "ED"): 0.6, ("p3", "DCM", "ES"): 0.4,
    }  # fmt: skip
    metrics = pd.DataFrame(
        _metric_rows("unet-dmr", volumes, structures)
        + _metric_rows("unet-base", {k: v - 0.1 for k, v in volumes.items()}, structures)
    )
    table = dice.group_table(metrics, n_resamples=99, seed=0)
    assert {"model", "group", "mean", "ci_low", "ci_high", "n"} <= set(table.columns)
    assert table[["model", "group"]].values.tolist() == [
        ["unet-base", "DCM"], ["unet-base", "NOR"], ["unet-dmr", "DCM"], ["unet-dmr", "NOR"],
    ]  # fmt: skip
    dmr = table[table["model"] == "unet-dmr"].set_index("group")
    assert dmr.loc["DCM", "mean"] == pytest.approx(0.55)
    assert dmr.loc["DCM", "n"] == 4 and dmr.loc["NOR", "n"] == 2
    assert (dmr["ci_low"] <= dmr["mean"]).all() and (dmr["mean"] <= dmr["ci_high"]).all()


def test_volume_unit_is_the_mean_of_its_structures() -> None:
    rows = _metric_rows("unet-dmr", {("p1", "NOR", "ED"): 0.9}, ("rv", "myo", "lv"))
    rows[0]["dice"] = 0.6  # rv
    units = volume_dice(pd.DataFrame(rows), ("rv", "myo", "lv"), "hand-made")
    assert units["dice"].item() == pytest.approx(0.8)


def _write_metric_csvs(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    groups = ("DCM", "HCM", "MINF", "NOR", "RV")
    for dataset, structures in (("acdc", ("rv", "myo", "lv")), ("lvsc", ("myo",))):
        for model in ("unet-base", "unet-dmr", "unet-dmr_fixed", "unet-dmr_t5"):
            group = (lambda i: groups[i % 5]) if dataset == "acdc" else (lambda i: np.nan)
            volumes = {
                (f"p{i}", group(i), phase): rng.uniform(0.6, 0.95)
                for i in range(10)
                for phase in ("ED", "ES")
            }
            frame = pd.DataFrame(_metric_rows(model, volumes, structures)).assign(dataset=dataset)
            path = folder / dataset / f"{model}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)
            paths.append(path)
    return paths


def _bytes(prefix: Path) -> dict[str, bytes]:
    return {ext: path.read_bytes() for ext, path in figure_paths(prefix).items() if path.exists()}


def test_ablation_figures_write_png_pdf_csv_reproducibly(tmp_path: Path) -> None:
    paths = _write_metric_csvs(tmp_path / "metrics")
    learned = [p for p in paths if p.stem in ("unet-dmr", "unet-dmr_fixed")]
    outputs = {}
    for run in ("a", "b"):
        prefix = tmp_path / run / "fig6"
        dice.write_weighting(
            learned,
            prefix,
            weighting={"unet-dmr": "learned", "unet-dmr_fixed": "fixed"},
            n_resamples=199,
            seed=3,
        )
        outputs[run] = _bytes(prefix)
    assert set(outputs["a"]) == {"png", "pdf", "csv"}
    assert len(outputs["a"]["png"]) > 10_000 and len(outputs["a"]["pdf"]) > 5_000
    assert outputs["a"] == outputs["b"]  # same seed: same CSV, PNG and PDF bytes
    table = pd.read_csv(tmp_path / "a" / "fig6.csv")
    assert table[["dataset", "weighting"]].values.tolist() == [
        ["acdc", "learned"], ["acdc", "fixed"], ["lvsc", "learned"], ["lvsc", "fixed"],
    ]  # fmt: skip
    assert (table["n"] == 20).all()


def test_regional_and_group_figures_from_the_command_line(tmp_path: Path) -> None:
    rows = []
    rng = np.random.default_rng(1)
    for model in ("unet-base", "unet-dmr"):
        for case in ("p1", "p2", "p3"):
            regions = ["apical", "apical", "mid", "mid", "basal", "basal"]
            rows += _slice_rows(
                model, case,
                [(z, r, "myo", float(rng.uniform())) for z, r in enumerate(regions)],
            )  # fmt: skip
    slices = tmp_path / "slices.csv"
    pd.DataFrame(rows).to_csv(slices, index=False)
    prefix = tmp_path / "figures" / "fig4b"
    code = main(["figure", "fig4b", "--slices", str(slices), "--n-resamples", "99",
                 "--out-prefix", str(prefix)])  # fmt: skip
    assert code == 0
    table = pd.read_csv(prefix.with_suffix(".csv"))
    assert table["n"].tolist() == [6] * 6
    assert figure_paths(prefix)["png"].stat().st_size > 1000
    assert sorted(p.name for p in prefix.parent.iterdir()) == [
        "fig4b.csv",
        "fig4b.pdf",
        "fig4b.png",
    ]


def test_threshold_figure_takes_t_from_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [p for p in _write_metric_csvs(tmp_path) if p.stem in ("unet-dmr", "unet-dmr_t5")]
    prefix = tmp_path / "fig7"
    args = ["figure", "fig7", "--metrics", *map(str, paths), "--model", "unet-dmr=250",
            "--model", "unet-dmr_t5=5", "--absent", "unet-dmr_t60", "--n-resamples", "99",
            "--out-prefix", str(prefix)]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(prefix.with_suffix(".csv"))
    assert table[["model", "threshold"]].drop_duplicates().values.tolist() == [
        ["unet-dmr_t5", 5.0], ["unet-dmr", 250.0],
    ]  # fmt: skip
    bad = ["figure", "fig7", "--metrics", str(paths[0]), "--model", "unet-dmr_t60",
           "--out-prefix", str(prefix)]  # fmt: skip
    assert main(bad) == 1
    assert "--model: expected NAME=VALUE, got 'unet-dmr_t60'" in capsys.readouterr().err


def _legend_colours(fig) -> dict[str, tuple[float, ...]]:
    """Legend text -> RGB of its marker (the colour the figure gives that entry)."""
    from matplotlib.colors import to_rgb

    legend = fig.legends[0]
    return {
        text.get_text(): to_rgb(handle.get_color())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }


def test_a_model_has_one_colour_and_one_name_in_figs_6_7_and_the_tables(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from dmr.labels import model_colour, model_display_name
    from dmr.tables.common import paper_model
    from dmr.tables.heldout import OUR_LABEL

    metrics = pd.concat(pd.read_csv(p) for p in _write_metric_csvs(tmp_path))
    figures = {}
    for column, levels, labels in (
        ("weighting", {"unet-dmr": "learned", "unet-dmr_fixed": "fixed"},
         {"learned": "learned", "fixed": "fixed"}),
        ("threshold", {"unet-dmr": 250.0, "unet-dmr_t5": 5.0}, {250.0: "T = 250", 5.0: "T = 5"}),
    ):  # fmt: skip
        table = dice.ablation_table(metrics, levels, level_column=column, n_resamples=99, seed=0)
        figures[column] = dice.plot_ablation(
            table, level_column=column, level_labels=labels, legend_title=column, title=column
        )
    main = model_display_name("unet-dmr")
    colours = {}
    for column, fig in figures.items():
        entries = _legend_colours(fig)
        (entry,) = [text for text in entries if text.endswith(f": {main}")]
        colours[column] = entries[entry]
        drawn = {tuple(line.get_color()) for line in fig.axes[0].lines}
        assert tuple(model_colour("unet-dmr")) in {tuple(c[:3]) for c in drawn}
        plt.close(fig)
    assert colours["weighting"] == colours["threshold"] == model_colour("unet-dmr")
    # Each ablation variant keeps its own colour, apart from the main model's.
    assert model_colour("unet-dmr_fixed") != model_colour("unet-dmr") != model_colour("unet-dmr_t5")
    # One spelling: the figures' legend, Table I/III/V row labels and Tables II/IV/VI headers.
    assert main == "DMR-UNet" == OUR_LABEL == paper_model("unet-dmr").long
    assert paper_model("unet-dmr").short == main
    assert model_display_name("segnet-dmr") == "DMR-SegNet" == paper_model("segnet-dmr").long
