"""Tables I and II(a) and their cells on hand-made inputs laid out like the workflow's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dmr.errors import InputError
from dmr.tables import (
    CELL_COLUMNS,
    Bootstrap,
    Table,
    table1,
    table2a,
    to_html,
    to_latex,
    to_markdown,
    write_table,
)

N_CASES = 10
STRUCTURES = ("rv", "myo", "lv")


def _metrics_rows(arch: str, variant: str, dice_of) -> list[dict[str, object]]:
    rows = []
    for case in range(N_CASES):
        for phase in ("ED", "ES"):
            for k, structure in enumerate(STRUCTURES):
                dice = dice_of(case, phase, k)
                rows.append(
                    {
                        "dataset": "acdc",
                        "model": f"{arch}-{variant}",
                        "arch": arch,
                        "variant": variant,
                        "fold": case % 5,
                        "case": f"patient{case:03d}",
                        "group": "NOR",
                        "phase": phase,
                        "structure": structure,
                        "dice": dice,
                        "jaccard": dice / (2 - dice),
                        "msd_mm": 10 * (1 - dice),
                        "hd_mm": 40 * (1 - dice),
                    }
                )
    return rows


@pytest.fixture
def metrics() -> pd.DataFrame:
    def segnet_base(case: int, phase: str, k: int) -> float:
        return 0.80 + 0.01 * case + 0.005 * k - (0.05 if phase == "ES" else 0.0)

    def segnet_dmr(case: int, phase: str, k: int) -> float:
        # Better than its baseline on every case: the signed-rank test gives p = 2 / 2^10.
        return segnet_base(case, phase, k) + 0.01 + 0.001 * case

    def unet_base(case: int, phase: str, k: int) -> float:
        return 0.8515 + 0.005 * case

    def unet_dmr(case: int, phase: str, k: int) -> float:
        # Alternating small gains and losses of distinct sizes (no ties, so scipy's exact
        # test): no significant difference.
        return unet_base(case, phase, k) + (0.002 if case % 2 else -0.0021) * (1 + 0.1 * case)

    rows = (
        _metrics_rows("unet", "dmr", unet_dmr)
        + _metrics_rows("segnet", "base", segnet_base)
        + _metrics_rows("unet", "base", unet_base)
        + _metrics_rows("segnet", "dmr", segnet_dmr)
        + _metrics_rows("unet", "dmr_fixed", unet_base)
    )
    table = pd.DataFrame(rows)
    # One structure of one case with an empty prediction: Dice 0, distances undefined.
    empty = (
        (table["model"] == "segnet-base")
        & (table["case"] == "patient000")
        & (table["phase"] == "ED")
        & (table["structure"] == "rv")
    )
    table.loc[empty, ["dice", "jaccard"]] = 0.0
    table.loc[empty, ["msd_mm", "hd_mm"]] = np.nan
    return table


def test_table2a_values_order_markers_and_bold(metrics: pd.DataFrame) -> None:
    table = table2a(metrics)
    frame = table.frame.set_index("metric")
    # Column order of the paper; dmr_fixed is not part of Table II.
    value_columns = [c for c in frame.columns if not c.endswith(" p")]
    assert value_columns == [
        "ED SN",
        "ED DMR-SN",
        "ED UNet",
        "ED DMR-UNet",
        "ES SN",
        "ES DMR-SN",
        "ES UNet",
        "ES DMR-UNet",
    ]
    # Mean over cases of the per-case mean over structures, Dice in %.
    rows = metrics[(metrics["model"] == "segnet-dmr") & (metrics["phase"] == "ES")]
    expected = rows.groupby("case")["dice"].mean().mean() * 100
    assert frame.loc["Dice (%)", "ES DMR-SN"] == pytest.approx(expected)
    # The NaN distance is excluded from its case's mean over structures, not counted as 0.
    sn_ed = metrics[(metrics["model"] == "segnet-base") & (metrics["phase"] == "ED")]
    expected_hd = sn_ed.groupby("case")["hd_mm"].mean().mean()
    assert frame.loc["HD (mm)", "ED SN"] == pytest.approx(expected_hd)

    assert frame.loc["Dice (%)", "ED DMR-SN p"] == pytest.approx(2 / 2**10)
    assert frame.loc["Dice (%)", "ED DMR-UNet p"] > 0.05
    display = table.display
    assert display.loc["Dice (%)", ("End Diastole (ED)", "DMR-SN")].endswith("**")
    assert not display.loc["Dice (%)", ("End Diastole (ED)", "DMR-UNet")].endswith("*")
    assert not display.loc["Dice (%)", ("End Diastole (ED)", "SN")].endswith("*")

    # Best per metric and phase: highest Dice, lowest distances.
    bold_ed = table.bold.xs("End Diastole (ED)", axis=1, level=0)
    ed_dice = frame.loc["Dice (%)", [c for c in value_columns if c.startswith("ED")]]
    # Ties at the displayed precision (here UNet and DMR-UNet) are all bold.
    shown = ed_dice.round(1)
    best = {c.removeprefix("ED ") for c in shown.index if shown[c] == shown.max()}
    assert bold_ed.loc["Dice (%)"].tolist() == [c in best for c in bold_ed.columns]
    assert best == {"UNet", "DMR-UNet"}
    ed_hd = frame.loc["HD (mm)", [c for c in value_columns if c.startswith("ED")]]
    assert bold_ed.loc["HD (mm)", ed_hd.idxmin().removeprefix("ED ")]

    notes = " ".join(table.notes)
    assert "SN 10/10" in notes and "DMR-UNet 10/10" in notes
    assert "HD (mm)" in notes and "SN ED: 1 structure value(s)" in notes
    assert "unet-dmr_fixed" in notes


def test_table2a_cells_carry_values_intervals_and_tests(metrics: pd.DataFrame) -> None:
    table = table2a(metrics, Bootstrap(n_resamples=499, seed=1))
    cells = table.cells
    assert list(cells.columns) == list(CELL_COLUMNS)
    # One cell per model x phase x metric, in the printed unit.
    assert len(cells) == 4 * 2 * 4
    assert set(cells["table"]) == {"IIa"} and set(cells["structure"]) == {"mean"}
    frame = table.frame.set_index("metric")
    dice = cells.set_index(["quantity", "phase", "method"]).loc[("dice_pct", "ED", "segnet-dmr")]
    assert dice["value"] == pytest.approx(frame.loc["Dice (%)", "ED DMR-SN"])
    assert dice["ci_low"] < dice["value"] < dice["ci_high"]
    assert dice["n"] == N_CASES
    assert dice["p_value"] == pytest.approx(frame.loc["Dice (%)", "ED DMR-SN p"])
    assert dice["marker"] == "**"
    # Baselines carry no test; the case whose HD is undefined is left out of n.
    base = cells[(cells["method"] == "segnet-base") & (cells["quantity"] == "hd_mm")]
    assert base["p_value"].isna().all() and set(base["marker"]) == {""}
    assert base.set_index("phase").loc["ED", "n"] == N_CASES  # one structure NaN, case kept
    # Same seed, same intervals; another seed moves them.
    again = table2a(metrics, Bootstrap(n_resamples=499, seed=1)).cells
    pd.testing.assert_frame_equal(cells, again)
    other = table2a(metrics, Bootstrap(n_resamples=499, seed=2)).cells
    assert not np.allclose(other["ci_low"], cells["ci_low"], equal_nan=True)
    notes = " ".join(table.notes)
    assert "Wilcoxon signed-rank" in notes and "* p < 0.05, ** p < 0.005" in notes


def test_undefined_intervals_are_nan_with_a_reason() -> None:
    boot = Bootstrap(n_resamples=99)
    assert "n = 1 < 2" in boot.mean([0.7, np.nan]).note
    constant = boot.mean([0.5, 0.5, 0.5])
    assert np.isnan(constant.low) and "all values equal" in constant.note
    # A prediction that is the reference plus a constant: the bias is the same on every
    # resample, and the correlation is undefined on resamples that draw one pair only.
    shifted = boot.paired([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], "bias")
    assert np.isnan(shifted.high) and "same value" in shifted.note
    r = boot.paired([1.0, 2.0, 3.0], [1.5, 2.0, 3.5], "r")
    assert np.isnan(r.low) and "undefined on some resamples" in r.note
    defined = boot.paired(np.arange(30.0), np.arange(30.0) + np.sin(np.arange(30.0)), "r")
    assert 0.9 < defined.low < defined.high <= 1.0 and defined.note == ""
    with pytest.raises(ValueError, match="n_resamples"):
        Bootstrap(n_resamples=0)


def test_table2a_rejects_several_datasets_and_duplicates(metrics: pd.DataFrame) -> None:
    other = metrics.copy()
    other["dataset"] = "lvsc"
    with pytest.raises(InputError, match="one dataset"):
        table2a(pd.concat([metrics, other]))
    with pytest.raises(InputError, match="duplicated"):
        table2a(pd.concat([metrics, metrics]))


def test_write_table_files(metrics: pd.DataFrame, tmp_path: Path) -> None:
    prefix = tmp_path / "tables" / "table2a"
    write_table(table2a(metrics), prefix)
    csv = pd.read_csv(prefix.with_suffix(".csv"))
    assert csv["metric"].tolist() == ["Dice (%)", "Jaccard (%)", "MSD (mm)", "HD (mm)"]
    markdown = (tmp_path / "tables" / "table2a.md").read_text()
    assert "| Dice (%) |" in markdown and "\\*\\*" in markdown and "| **" in markdown
    latex = (tmp_path / "tables" / "table2a.tex").read_text()
    assert "\\toprule" in latex and "\\textbf{" in latex and "Dice (\\%)" in latex
    assert "\\multicolumn{4}{c}{End Diastole (ED)}" in latex
    html = (tmp_path / "tables" / "table2a.html").read_text()
    assert html.count("<table") == 1 and '<th scope="row">Dice (%)</th>' in html
    assert '<th scope="colgroup" colspan="4">End Diastole (ED)</th>' in html
    assert "<strong>" in html and "**</" in html  # bold best, markers kept in the text
    assert not list((tmp_path / "tables").glob(".*tmp*"))


def test_plain_table_renders_without_display() -> None:
    table = Table(frame=pd.DataFrame({"name": ["a_b"], "value": [1.5]}), caption="x & y")
    assert "| a_b | 1.5 |" in to_markdown(table)
    assert "a\\_b & 1.5" in to_latex(table) and "x \\& y" in to_latex(table)
    assert "<caption>x &amp; y</caption>" in to_html(table)
    assert '<th scope="row">a_b</th><td>1.5</td>' in to_html(table)


def test_html_escapes_every_text_and_puts_the_notes_in_the_footer() -> None:
    display = pd.DataFrame(
        {("ED", "<b>"): ["1 & 2", "3"], ("ES", "x"): ["4**", "5"]}, index=["<row>", "r2"]
    )
    display.columns = pd.MultiIndex.from_tuples(display.columns)
    bold = pd.DataFrame([[False, True], [False, False]], index=display.index)
    bold.columns = display.columns
    table = Table(
        frame=pd.DataFrame({"a": [1]}),
        caption="<script>",
        notes=["n < 3"],
        display=display,
        bold=bold,
    )
    html = to_html(table)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<th scope="row">&lt;row&gt;</th><td>1 &amp; 2</td><td><strong>4**</strong></td>' in html
    assert html.count('colspan="1"') == 2 and '<th scope="col">&lt;b&gt;</th>' in html
    assert '<tfoot>\n<tr><td colspan="3"><ul class="notes"><li>n &lt; 3</li>' in html


# --------------------------------------------------------------------------- Table I
def _history(
    root: Path,
    dataset: str,
    model: str,
    fold: int,
    seconds: list[float],
    precision: str | None = None,
) -> Path:
    path = root / "results" / dataset / "models" / model / f"fold{fold}" / "history.csv"
    path.parent.mkdir(parents=True)
    history = pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds})
    if precision is not None:
        history["precision"] = precision
    history.to_csv(path, index=False)
    return path


def _timing(root: Path, dataset: str, model: str, plain: list[float], reg: list[float]) -> Path:
    path = root / "results" / dataset / "predictions" / model / "timing.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(
        {
            "dataset": dataset,
            "model": model,
            "fold": 0,
            "case": [f"patient{i:03d}" for i in range(len(plain))],
            "phase": "ED",
            "n_slices": 10,
            "ms_plain": plain,
            "ms_regularized": reg,
            "device": "cpu",
        }
    ).to_csv(path, index=False)
    return path


def test_table1_times_params_and_devices(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    histories = [
        _history(tmp_path, "acdc", "unet-base", 0, [60.0, 120.0]),
        _history(tmp_path, "acdc", "unet-base", 1, [180.0]),
        _history(tmp_path, "acdc", "unet-dmr", 0, [300.0]),
        _history(tmp_path, "lvsc", "unet-dmr", 0, [600.0]),
    ]
    torch.save({"model_config": {"width": 8}}, histories[0].with_name("model.pt"))
    timings = [
        _timing(tmp_path, "acdc", "unet-base", [70.0, 74.0], [70.0, 74.0]),
        _timing(tmp_path, "acdc", "unet-dmr", [75.0, 75.0], [150.0, 170.0]),
    ]
    table = table1(histories, timings, width=4)
    frame = table.frame.set_index("model")
    assert list(frame.index) == ["unet-base", "unet-dmr"]
    assert frame.loc["unet-base", "train_min_per_epoch_acdc"] == pytest.approx(2.0)
    assert frame.loc["unet-dmr", "train_min_per_epoch_lvsc"] == pytest.approx(10.0)
    assert frame.loc["unet-base", "test_ms_plain_acdc"] == pytest.approx(72.0)
    assert frame.loc["unet-dmr", "test_ms_regularized_acdc"] == pytest.approx(160.0)
    # The regularizer adds parameters only at training time.
    assert (
        frame.loc["unet-dmr", "params_train_millions"]
        > frame.loc["unet-dmr", "params_test_millions"]
    )
    assert (
        frame.loc["unet-dmr", "params_test_millions"]
        == frame.loc["unet-base", "params_test_millions"]
    )

    display = table.display
    assert display.loc["DMR-UNet", ("Test (ms/volume)", "ACDC")] == "75 (160)"
    assert display.loc["UNet", ("Test (ms/volume)", "ACDC")] == "72"
    assert display.loc["UNet", ("Test (ms/volume)", "LVSC")] == "–"
    assert list(display.columns.get_level_values(0)).count("Train (min/epoch)") == 2
    notes = " ".join(table.notes)
    assert "ACDC test timings measured on: cpu" in notes
    assert "acdc/unet-base width [8]" in notes
    assert "UNet LVSC train" in notes
    assert "precision" not in notes  # not recorded by these histories


def test_table1_cells_and_training_precision(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    histories = [
        _history(tmp_path, "acdc", "unet-dmr", 0, [60.0, 120.0, 90.0], precision="bf16"),
        _history(tmp_path, "acdc", "unet-dmr", 1, [150.0], precision="bf16"),
        _history(tmp_path, "lvsc", "unet-dmr", 0, [600.0]),
    ]
    timings = [_timing(tmp_path, "acdc", "unet-dmr", [75.0, 80.0, 85.0], [150.0, 170.0, 160.0])]
    table = table1(histories, timings, width=4, bootstrap=Bootstrap(n_resamples=199))
    notes = " ".join(table.notes)
    assert "ACDC training precision: bf16." in notes
    assert "LVSC training precision" not in notes
    cells = table.cells.set_index(["quantity", "dataset"])
    train = cells.loc[("train_min_per_epoch", "acdc")]
    assert train["value"] == pytest.approx(1.75) and train["n"] == 4
    assert train["ci_low"] < 1.75 < train["ci_high"]
    # One epoch: no interval, and the cell says why.
    lvsc = cells.loc[("train_min_per_epoch", "lvsc")]
    assert np.isnan(lvsc["ci_low"]) and "n = 1 < 2" in lvsc["note"]
    regularized = cells.loc[("test_ms_per_volume_regularized", "acdc")]
    assert regularized["value"] == pytest.approx(160.0) and regularized["n"] == 3
    params = cells.loc[("params_test_millions", "")]
    assert params["note"] == "exact count" and pd.isna(params["n"])
    assert params["value"] == pytest.approx(table.frame["params_test_millions"].iloc[0])


def test_table1_says_a_shared_device_and_precision_once(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    histories = []
    for dataset in ("acdc", "lvsc"):
        for model in ("unet-base", "unet-dmr"):
            path = _history(tmp_path, dataset, model, 0, [60.0, 90.0], precision="bf16")
            pd.read_csv(path).assign(device="cpu").to_csv(path, index=False)
            histories.append(path)
    timings = [
        _timing(tmp_path, dataset, model, [70.0, 74.0], [90.0, 94.0])
        for dataset in ("acdc", "lvsc")
        for model in ("unet-base", "unet-dmr")
    ]
    notes = table1(histories, timings, width=4).notes
    assert [n for n in notes if "measured on" in n] == ["Timings measured on (every dataset): cpu."]
    assert [n for n in notes if "precision" in n] == ["Training precision (every dataset): bf16."]
    # A second device: one note per dataset and timing again, so the odd one out is visible.
    gpu = _timing(tmp_path / "gpu", "lvsc", "unet-dmr", [7.0], [9.0])
    pd.read_csv(gpu).assign(device="cuda:0").to_csv(gpu, index=False)
    notes = table1(histories, [*timings[:3], gpu], width=4).notes
    measured = [n for n in notes if "measured on" in n]
    assert "LVSC test timings measured on: cpu, cuda:0." in measured and len(measured) == 4


def test_table1_rejects_unexpected_history_layout(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [1], "seconds": [1.0]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="models/<model>/fold<k>"):
        table1([path], [], width=4)


def test_cli_table2a(metrics: pd.DataFrame, tmp_path: Path) -> None:
    from dmr.cli import main

    paths = []
    for model, rows in metrics.groupby("model"):
        paths.append(tmp_path / f"{model}.csv")
        rows.to_csv(paths[-1], index=False)
    prefix = tmp_path / "tables" / "table2a"
    assert main(["table2a", "--metrics", *map(str, paths), "--out-prefix", str(prefix)]) == 0
    assert {p.suffix for p in prefix.parent.iterdir()} == {".csv", ".md", ".tex", ".html"}
    cells_path = tmp_path / "stats" / "table2a.csv"
    args = ["--n-resamples", "99", "--seed", "3", "--cells", str(cells_path)]
    assert main(["table2a", "--metrics", *map(str, paths), "--out-prefix", str(prefix), *args]) == 0
    cells = pd.read_csv(cells_path, keep_default_na=False, na_values=[""])
    assert list(cells.columns) == list(CELL_COLUMNS) and len(cells) == 32
    assert "99 resamples" in (prefix.parent / "table2a.md").read_text()


def test_cli_names_an_unreadable_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dmr.cli import main

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["table2a", "--metrics", str(empty), "--out-prefix", str(tmp_path / "t")]) == 1
    assert f"{empty}: not a readable CSV" in capsys.readouterr().err
