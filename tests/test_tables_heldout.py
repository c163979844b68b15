"""Tables III and V: our held-out ensemble beside published rows, and when ours must be absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from dmr.errors import InputError
from dmr.tables import Bootstrap, confusion_measures, table3, table5
from dmr.tables.heldout import TABLE3_COLUMNS

BOOT = Bootstrap(n_resamples=199)


def _published_row(table: str, method: str, quantity: str, value: float, **where: str) -> dict:
    return {
        "table": table,
        "dataset": where.pop("dataset", "acdc" if table == "III" else "lvsc"),
        "quantity": quantity,
        "phase": where.get("phase", ""),
        "structure": where.get("structure", ""),
        "region": where.get("region", ""),
        "method": method,
        "value": value,
        "printed": where.get("printed", f"{value:.2f}"),
        "marker": "",
        "note": "",
    }


@pytest.fixture
def published() -> pd.DataFrame:
    """A small stand-in for dmr.published.load_published() with made-up values."""
    rows = []
    for k, method in enumerate(("Baumgartner", "Khened", "Isensee")):
        for column in TABLE3_COLUMNS:
            value = {"dice": 0.90, "hd_mm": 9.0}.get(column.quantity, 0.95) + 0.01 * k
            rows.append(
                _published_row(
                    "III",
                    method,
                    column.quantity,
                    value,
                    phase=column.phase,
                    structure=column.structure,
                )
            )
    for k, method in enumerate(("AU", "CNR", "FCN", "DFCN", "AO", "SCR", "INR")):
        for measure in ("jaccard", "sensitivity", "specificity", "ppv", "npv"):
            mean = 0.84 - 0.05 * k if measure == "jaccard" else 0.9
            rows.append(_published_row("V", method, f"{measure}_mean", mean, structure="myo"))
            rows.append(_published_row("V", method, f"{measure}_sd", 0.1, structure="myo"))
    for region, mean in (("apical", 0.66), ("mid", 0.77), ("basal", 0.74)):
        rows.append(_published_row("text", "unet-dmr", "jaccard_mean", mean, region=region))
        rows.append(_published_row("text", "unet-dmr", "jaccard_sd", 0.15, region=region))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Table III
def _heldout(n_cases: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(4)
    ids = {"dataset": "acdc", "model": "unet-dmr", "arch": "unet", "variant": "dmr", "fold": -1}
    metrics, clinical = [], []
    for case in range(n_cases):
        name = f"patient{101 + case:03d}"
        for phase in ("ED", "ES"):
            for structure in ("lv", "rv", "myo"):
                volume = 50.0 + 10 * case + (20 if phase == "ED" else 0)
                metrics.append(
                    ids
                    | {"case": name, "group": "", "phase": phase, "structure": structure}
                    | {
                        "dice": 0.85 + 0.01 * case,
                        "jaccard": 0.75,
                        "msd_mm": 1.0,
                        "hd_mm": np.nan if (case, phase, structure) == (0, "ES", "rv") else 8.0,
                        "volume_gt_ml": volume,
                        "volume_pred_ml": volume + rng.normal(0, 3),
                    }
                )
        for quantity, value in (
            ("lv_ef_pct", 55.0 - 2 * case),
            ("rv_ef_pct", 48.0 + case),
            ("myo_mass_ed_g", 120.0 + 8 * case),
        ):
            clinical.append(
                ids
                | {"case": name, "group": "", "quantity": quantity}
                | {"reference": value, "prediction": value + rng.normal(0, 2)}
            )
    return pd.DataFrame(metrics), pd.DataFrame(clinical)


def test_table3_our_row_beside_the_published_rows(published: pd.DataFrame) -> None:
    metrics, clinical = _heldout()
    table = table3(metrics, clinical, published, {"references": True}, BOOT)
    assert table.display.index.tolist() == [
        "Baumgartner [43] (published)",
        "Khened [44] (published)",
        "Isensee [45] (published)",
        "DMR-UNet",
    ]
    ours = table.frame.set_index("method").loc["unet-dmr"]
    assert not ours["published"]
    assert ours["ED LV Dice"] == pytest.approx(0.875)
    assert ours["ES RV HD"] == pytest.approx(8.0)  # the undefined HD is left out, not zero
    es_myo = metrics[(metrics["phase"] == "ES") & (metrics["structure"] == "myo")]
    r = scipy_stats.pearsonr(es_myo["volume_gt_ml"], es_myo["volume_pred_ml"]).statistic
    assert ours["ES Myo Corr"] == pytest.approx(r)
    lv_ef = clinical[clinical["quantity"] == "lv_ef_pct"]
    assert ours["EF LV Corr"] == pytest.approx(
        scipy_stats.pearsonr(lv_ef["reference"], lv_ef["prediction"]).statistic
    )
    # Published values are shown as printed; the best per column is bold (low HD is best).
    assert table.display.loc["Khened [44] (published)", ("End Diastole (ED)", "LV HD")] == "9.01"
    assert table.bold.loc["DMR-UNet", ("End Diastole (ED)", "LV HD")]
    assert table.bold.loc["Isensee [45] (published)", ("End Diastole (ED)", "LV Dice")]
    # The paper's column order: LV, RV, Myo (Dice, HD) and the myocardium Corr per phase.
    assert table.display.columns.tolist()[5:9] == [
        ("End Diastole (ED)", "Myo HD"),
        ("End Diastole (ED)", "Myo Corr"),
        ("End Systole (ES)", "LV Dice"),
        ("End Systole (ES)", "LV HD"),
    ]
    assert table.display.columns.tolist()[-2:] == [("EF", "LV Corr"), ("EF", "RV Corr")]
    cells = table.cells.set_index(["quantity", "phase", "structure"])
    assert set(table.cells["method"]) == {"unet-dmr"} and set(table.cells["table"]) == {"III"}
    assert len(table.cells) == len(TABLE3_COLUMNS)
    assert cells.loc[("dice", "ED", "lv"), "n"] == 6
    assert cells.loc[("hd_mm", "ES", "rv"), "n"] == 5
    assert cells.loc[("mass_r", "ED", "myo"), "value"] == pytest.approx(ours["ED Myo Corr"])
    assert cells.loc[("ef_r", "", "rv"), "n"] == 6
    notes = " ".join(table.notes)
    assert (
        "6 held-out case(s)" in notes
        and "ES RV HD: undefined (exactly one mask empty) in 1 case(s)" in notes
    )


@pytest.mark.parametrize(
    ("status", "empty", "reason"),
    [
        ({"references": False, "reason": "testing/ has no _gt files"}, False, "no _gt files"),
        (None, True, "hold no rows"),
    ],
)
def test_table3_without_references_has_no_row_of_ours(
    published: pd.DataFrame, status: dict | None, empty: bool, reason: str
) -> None:
    metrics, clinical = _heldout()
    if empty:
        metrics, clinical = metrics.iloc[:0], clinical.iloc[:0]
    table = table3(metrics, clinical, published, status, BOOT)
    assert "DMR-UNet" not in table.display.index
    assert table.frame["published"].all() and len(table.frame) == 3
    assert table.cells.empty
    assert any("DMR-UNet row not reproduced" in n and reason in n for n in table.notes)


def test_table3_refuses_single_folds_and_incomplete_published_values(
    published: pd.DataFrame,
) -> None:
    metrics, clinical = _heldout()
    with pytest.raises(InputError, match="fold ensemble"):
        table3(metrics.assign(fold=0), clinical, published, None, BOOT)
    with pytest.raises(InputError, match="no rows of unet-dmr"):
        table3(metrics.assign(model="unet-base"), clinical, published, None, BOOT)
    without_khened_ef = published[
        ~((published["method"] == "Khened") & (published["quantity"] == "ef_r"))
    ]
    with pytest.raises(InputError, match="Khened ef_r"):
        table3(metrics, clinical, without_khened_ef, None, BOOT)


# --------------------------------------------------------------------------- Table V
def _counts(reference: np.ndarray, prediction: np.ndarray) -> dict[str, int]:
    return {
        "roi_tp": int((reference & prediction).sum()),
        "roi_fp": int((~reference & prediction).sum()),
        "roi_fn": int((reference & ~prediction).sum()),
        "roi_tn": int((~reference & ~prediction).sum()),
    }


def _square(top: int, left: int, size: int = 4) -> np.ndarray:
    mask = np.zeros((10, 10), dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_confusion_measures_of_a_hand_made_slice() -> None:
    # A 4x4 myocardium and a prediction shifted by one column, in a 10x10 region of interest:
    # 12 overlap, 4 false positives, 4 false negatives, 80 true negatives.
    counts = _counts(_square(2, 2), _square(2, 3))
    assert counts == {"roi_tp": 12, "roi_fp": 4, "roi_fn": 4, "roi_tn": 80}
    empty_prediction = _counts(_square(2, 2), np.zeros((10, 10), dtype=bool))
    measures = confusion_measures(pd.DataFrame([counts, empty_prediction]))
    assert measures.iloc[0].to_dict() == pytest.approx(
        {"jaccard": 0.6, "sensitivity": 0.75, "specificity": 80 / 84, "ppv": 0.75, "npv": 80 / 84}
    )
    # Nothing predicted: PPV's denominator is 0, so PPV is undefined (not 0 or 1).
    assert measures.loc[1, "jaccard"] == 0.0 and measures.loc[1, "sensitivity"] == 0.0
    assert np.isnan(measures.loc[1, "ppv"]) and measures.loc[1, "specificity"] == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        confusion_measures(pd.DataFrame([{**counts, "roi_tn": -1}]))


def _slices() -> pd.DataFrame:
    ids = {"dataset": "lvsc", "model": "unet-dmr", "arch": "unet", "variant": "dmr", "fold": -1}
    reference = _square(2, 2)
    rows = []
    for k, (region, shift) in enumerate(
        [("apical", 2), ("apical", 1), ("mid", 0), ("mid", 1), ("basal", 1), ("basal", 3)]
    ):
        prediction = _square(2, 2 + shift)
        rows.append(
            ids
            | {
                "case": "DET01",
                "frame": 0,
                "phase": "ED",
                "structure": "myo",
                "slice": k,
                "region": region,
            }
            | _counts(reference, prediction)
        )
    # Prediction empty on a slice with myocardium (PPV undefined there) ...
    rows.append(rows[-1] | {"slice": 6} | _counts(reference, np.zeros((10, 10), dtype=bool)))
    # ... and a slice whose reference has no myocardium at all (left out of every measure).
    rows.append(rows[-1] | {"slice": 7} | _counts(np.zeros((10, 10), dtype=bool), reference))
    return pd.DataFrame(rows)


def test_table5_mean_sd_over_slices_sorted_by_jaccard(published: pd.DataFrame) -> None:
    slices = _slices()
    table = table5(slices, published, None, "counts inside a test ROI", BOOT)
    measures = confusion_measures(slices.iloc[:7])
    jaccard = measures["jaccard"]
    ours = table.frame.set_index("method").loc["unet-dmr"]
    assert ours["jaccard_mean"] == pytest.approx(jaccard.mean())
    assert ours["ppv_mean"] == pytest.approx(measures["ppv"].iloc[:6].mean())
    assert ours["jaccard_sd"] == pytest.approx(jaccard.std(ddof=1))
    assert table.frame.set_index("method").loc["AU", "jaccard_sd"] == pytest.approx(0.1)
    assert table.display.loc["DMR-UNet", "Jaccard"] == (
        f"{jaccard.mean():.2f} ({jaccard.std(ddof=1):.2f})"
    )
    assert table.display.loc["DMR-UNet", "SA/FA"] == "FA"
    # Descending Jaccard: AU 0.84, CNR 0.79, FCN 0.74, DFCN 0.69, AO 0.64, SCR 0.59, INR 0.54.
    order = table.frame["jaccard_mean"].tolist()
    assert order == sorted(order, reverse=True)
    assert table.display.index[0] == "AU [47] (published)"
    assert table.display.loc["AU [47] (published)", "Jaccard"] == "0.84 (0.10)"

    cells = table.cells
    v = cells[cells["table"] == "V"].set_index("quantity")
    assert v.loc["jaccard_mean", "n"] == 7 and v.loc["ppv_mean", "n"] == 6
    assert v.loc["jaccard_sd", "value"] == pytest.approx(jaccard.std(ddof=1))
    assert v.loc["jaccard_mean", "ci_low"] < jaccard.mean() < v.loc["jaccard_mean", "ci_high"]
    regional = cells[cells["table"] == "text"].set_index(["quantity", "region"])
    basal = jaccard.iloc[[4, 5, 6]]
    assert regional.loc[("jaccard_mean", "basal"), "value"] == pytest.approx(basal.mean())
    assert regional.loc[("jaccard_sd", "apical"), "n"] == 2

    notes = " ".join(table.notes)
    assert "counts inside a test ROI" in notes
    assert "1 case(s), 1 frame(s): 7 slice(s) whose reference has myocardium (1 without" in notes
    assert "PPV 1" in notes
    assert (
        f"basal {basal.mean():.2f} ({basal.std(ddof=1):.2f}), n = 3 (paper 0.74 (0.15))." in notes
    )


def test_table5_without_references_has_only_published_rows(published: pd.DataFrame) -> None:
    status = {"references": False, "reason": "no consensus masks found"}
    table = table5(_slices(), published, status, bootstrap=BOOT)
    assert len(table.frame) == 7 and table.frame["published"].all()
    assert table.cells.empty
    notes = " ".join(table.notes)
    assert "no consensus masks found" in notes and "region of interest" in notes


def test_cli_table3_and_table5(
    published: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dmr.cli import main
    from dmr.cli import tables as cli_tables

    monkeypatch.setattr(cli_tables, "_published", lambda: published)
    metrics, clinical = _heldout()
    paths = {name: tmp_path / f"{name}.csv" for name in ("metrics", "clinical", "slices")}
    metrics.to_csv(paths["metrics"], index=False)
    clinical.iloc[:0].to_csv(paths["clinical"], index=False)  # header only
    _slices().to_csv(paths["slices"], index=False)
    status = tmp_path / "status.json"
    status.write_text('{"references": false, "reason": "testing/ has no _gt files"}')
    common = ["--n-resamples", "99", "--seed", "1"]
    assert (
        main(
            [
                "table3",
                "--metrics",
                str(paths["metrics"]),
                "--clinical",
                str(paths["clinical"]),
                "--status",
                str(status),
                "--out-prefix",
                str(tmp_path / "t3"),
                "--cells",
                str(tmp_path / "c3.csv"),
                *common,
            ]
        )
        == 0
    )
    assert "testing/ has no _gt files" in (tmp_path / "t3.md").read_text()
    assert (
        main(
            [
                "table5",
                "--slices",
                str(paths["slices"]),
                "--out-prefix",
                str(tmp_path / "t5"),
                "--cells",
                str(tmp_path / "c5.csv"),
                *common,
            ]
        )
        == 0
    )
    cells = pd.read_csv(tmp_path / "c5.csv")
    assert set(cells["table"]) == {"V", "text"} and len(cells) == 10 + 6
