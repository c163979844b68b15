"""Tables I and II(a) on hand-made inputs laid out like the workflow's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dmr.errors import InputError
from dmr.tables import Table, table1, table2a, to_latex, to_markdown, write_table

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
        "ED DMR SN",
        "ED UNet",
        "ED DMR UNet",
        "ES SN",
        "ES DMR SN",
        "ES UNet",
        "ES DMR UNet",
    ]
    # Mean over cases of the per-case mean over structures, Dice in %.
    rows = metrics[(metrics["model"] == "segnet-dmr") & (metrics["phase"] == "ES")]
    expected = rows.groupby("case")["dice"].mean().mean() * 100
    assert frame.loc["Dice (%)", "ES DMR SN"] == pytest.approx(expected)
    # The NaN distance is excluded from its case's mean over structures, not counted as 0.
    sn_ed = metrics[(metrics["model"] == "segnet-base") & (metrics["phase"] == "ED")]
    expected_hd = sn_ed.groupby("case")["hd_mm"].mean().mean()
    assert frame.loc["HD (mm)", "ED SN"] == pytest.approx(expected_hd)

    assert frame.loc["Dice (%)", "ED DMR SN p"] == pytest.approx(2 / 2**10)
    assert frame.loc["Dice (%)", "ED DMR UNet p"] > 0.05
    display = table.display
    assert display.loc["Dice (%)", ("End Diastole (ED)", "DMR SN")].endswith("**")
    assert not display.loc["Dice (%)", ("End Diastole (ED)", "DMR UNet")].endswith("*")
    assert not display.loc["Dice (%)", ("End Diastole (ED)", "SN")].endswith("*")

    # Best per metric and phase: highest Dice, lowest distances.
    bold_ed = table.bold.xs("End Diastole (ED)", axis=1, level=0)
    ed_dice = frame.loc["Dice (%)", [c for c in value_columns if c.startswith("ED")]]
    # Ties at the displayed precision (here UNet and DMR UNet) are all bold.
    shown = ed_dice.round(1)
    best = {c.removeprefix("ED ") for c in shown.index if shown[c] == shown.max()}
    assert bold_ed.loc["Dice (%)"].tolist() == [c in best for c in bold_ed.columns]
    assert best == {"UNet", "DMR UNet"}
    ed_hd = frame.loc["HD (mm)", [c for c in value_columns if c.startswith("ED")]]
    assert bold_ed.loc["HD (mm)", ed_hd.idxmin().removeprefix("ED ")]

    notes = " ".join(table.notes)
    assert "SN 10/10" in notes and "DMR UNet 10/10" in notes
    assert "HD (mm)" in notes and "SN ED: 1 structure value(s)" in notes
    assert "unet-dmr_fixed" in notes


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
    assert not list((tmp_path / "tables").glob(".*tmp*"))


def test_plain_table_renders_without_display() -> None:
    table = Table(frame=pd.DataFrame({"name": ["a_b"], "value": [1.5]}), caption="x & y")
    assert "| a_b | 1.5 |" in to_markdown(table)
    assert "a\\_b & 1.5" in to_latex(table) and "x \\& y" in to_latex(table)


# --------------------------------------------------------------------------- Table I
def _history(root: Path, dataset: str, model: str, fold: int, seconds: list[float]) -> Path:
    path = root / "results" / dataset / "models" / model / f"fold{fold}" / "history.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds}).to_csv(
        path, index=False
    )
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
    assert {p.suffix for p in prefix.parent.iterdir()} == {".csv", ".md", ".tex"}
