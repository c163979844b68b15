"""Tables IV and VI(a)/(b): the builder Table II(a) uses, with other structures, rows and levels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from dmr.errors import InputError
from dmr.tables import comparison_table, table2a, table4, table6
from dmr.tables.common import best_agreement, is_best
from dmr.tables.comparison import TABLE6A

#: Cases per architecture: all DMR-minus-base differences positive and distinct, so scipy's
#: exact two-sided signed-rank test gives p = 2 / 2^n: 12 -> 0.00049, 10 -> 0.00195, 6 -> 0.031.
CASES = {"segnet": 12, "usegnet": 10, "unet": 6}


def _metric_rows(dataset: str, arch: str, variant: str, n: int) -> list[dict[str, object]]:
    rows = []
    for case in range(n):
        for phase in ("ED", "ES"):
            dice = 0.60 + 0.01 * case + (0.02 + 0.001 * case if variant == "dmr" else 0.0)
            rows.append(
                {
                    "dataset": dataset,
                    "model": f"{arch}-{variant}",
                    "arch": arch,
                    "variant": variant,
                    "fold": -1,
                    "case": f"case{case:02d}",
                    "group": "",
                    "phase": phase,
                    "structure": "myo",
                    "dice": dice,
                    "jaccard": dice / (2 - dice),
                    "msd_mm": 5 * (1 - dice),
                    "hd_mm": 30 * (1 - dice),
                    "volume_gt_ml": 100.0 + case,
                    "volume_pred_ml": 100.0 + case * (1.1 if variant == "dmr" else 1.3),
                }
            )
    return rows


def _metrics(dataset: str) -> pd.DataFrame:
    rows = []
    for arch, n in CASES.items():
        for variant in ("base", "dmr"):
            rows += _metric_rows(dataset, arch, variant, n)
    return pd.DataFrame(rows)


def test_table6_marks_at_the_cross_dataset_levels() -> None:
    metrics = _metrics("acdc_to_lvsc")
    table = table6(metrics, "a")
    frame = table.frame.set_index("metric")
    assert frame.loc["Dice (%)", "ED DMR-SN p"] == pytest.approx(2 / 2**12)
    assert frame.loc["Dice (%)", "ED DMR-USN p"] == pytest.approx(2 / 2**10)
    assert frame.loc["Dice (%)", "ED DMR-UNet p"] == pytest.approx(2 / 2**6)
    shown = table.display.loc["Dice (%)"]
    # ** below 0.001, * below 0.01, nothing at 0.031 (which Tables II/IV would mark *).
    assert shown[("End Diastole (ED)", "DMR-SN")].endswith("**")
    assert shown[("End Diastole (ED)", "DMR-USN")].endswith("*")
    assert not shown[("End Diastole (ED)", "DMR-USN")].endswith("**")
    assert not shown[("End Diastole (ED)", "DMR-UNet")].endswith("*")
    # The same data at Table II's levels: one step more significant each.
    at_paper_levels = comparison_table(metrics, dataclasses.replace(TABLE6A, levels=(0.05, 0.005)))
    shown = at_paper_levels.display.loc["Dice (%)"]
    assert shown[("End Diastole (ED)", "DMR-USN")].endswith("**")
    assert shown[("End Diastole (ED)", "DMR-UNet")].endswith("*")

    cells = table.cells
    assert set(cells["table"]) == {"VIa"} and set(cells["dataset"]) == {"acdc_to_lvsc"}
    assert set(cells["structure"]) == {"myo"}
    dmr = cells[(cells["quantity"] == "dice_pct") & (cells["phase"] == "ED")].set_index("method")
    assert dmr.loc[["segnet-dmr", "usegnet-dmr", "unet-dmr"], "marker"].tolist() == ["**", "*", ""]
    assert "trained on ACDC and tested on LVSC" in table.caption
    assert "p < 0.01 and p < 0.001" in table.caption
    assert "* p < 0.01, ** p < 0.001" in " ".join(table.notes)
    assert "SN 12/12; DMR-SN 12/12; USN 10/10" in " ".join(table.notes)


def test_tables_2a_4_and_6_share_one_csv_shape() -> None:
    cross = table6(_metrics("lvsc_to_acdc"), "b")
    assert "trained on LVSC and tested on ACDC" in cross.caption
    acdc = _metrics("acdc")
    for structure in ("rv", "lv"):
        acdc = pd.concat([acdc, _metrics("acdc").assign(structure=structure)])
    in_domain = table2a(acdc)
    assert list(cross.frame.columns) == list(in_domain.frame.columns)
    assert cross.frame.columns[:4].tolist() == ["metric", "ED SN", "ED DMR-SN", "ED DMR-SN p"]
    assert cross.frame["metric"].tolist() == in_domain.frame["metric"].tolist()
    with pytest.raises(ValueError, match="part"):
        table6(_metrics("lvsc_to_acdc"), "c")


def _masses(dataset: str) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for arch, n in CASES.items():
        for variant, noise in (("base", 12.0), ("dmr", 5.0)):
            for case in range(n):
                for phase in ("ed", "es"):
                    reference = 120.0 + 7.0 * case + (10.0 if phase == "ed" else 0.0)
                    rows.append(
                        {
                            "dataset": dataset,
                            "model": f"{arch}-{variant}",
                            "arch": arch,
                            "variant": variant,
                            "fold": case % 2,
                            "case": f"case{case:02d}",
                            "group": "",
                            "quantity": f"myo_mass_{phase}_g",
                            "reference": reference,
                            "prediction": reference + 2.0 + rng.normal(0, noise),
                        }
                    )
    return pd.DataFrame(rows)


def test_table4_adds_the_mass_rows() -> None:
    metrics, clinical = _metrics("lvsc"), _masses("lvsc")
    table = table4(metrics, clinical)
    frame = table.frame.set_index("metric")
    assert frame.index.tolist() == [
        "Dice (%)",
        "Jaccard (%)",
        "MSD (mm)",
        "HD (mm)",
        "Mass (Corr)",
        "Mass bias (g)",
        "Mass LoA (g)",
    ]
    rows = clinical[(clinical["model"] == "unet-dmr") & (clinical["quantity"] == "myo_mass_es_g")]
    differences = rows["prediction"] - rows["reference"]
    r = scipy_stats.pearsonr(rows["reference"], rows["prediction"]).statistic
    assert frame.loc["Mass (Corr)", "ES DMR-UNet"] == pytest.approx(r)
    assert frame.loc["Mass bias (g)", "ES DMR-UNet"] == pytest.approx(differences.mean())
    assert frame.loc["Mass LoA (g)", "ES DMR-UNet"] == pytest.approx(1.96 * differences.std())
    # No test on the mass rows; the segmentation rows keep Table IV's levels (0.05 / 0.005).
    assert np.isnan(frame.loc["Mass (Corr)", "ES DMR-UNet p"])
    display = table.display
    assert display.loc["Dice (%)", ("End Diastole (ED)", "DMR-UNet")].endswith("*")
    mass = display.loc["Mass (g) (Bias+LoA)", ("End Systole (ES)", "DMR-UNet")]
    assert mass == f"{differences.mean():.2f} ({1.96 * differences.std():.2f})"
    # Bold: the smallest absolute bias as printed (never the signed bias, nor the LoA first).
    bias = frame.loc["Mass bias (g)", [c for c in frame.columns if c.startswith("ED ")]]
    best = bias.astype(float).abs().round(2).idxmin().removeprefix("ED ")
    assert table.bold.loc["Mass (g) (Bias+LoA)", ("End Diastole (ED)", best)]
    assert table.bold.loc["Mass (g) (Bias+LoA)"].sum() == 2  # one per phase, no ties here
    cells = table.cells
    mass_cells = cells[cells["quantity"].str.startswith("mass_")]
    assert len(mass_cells) == 3 * 2 * 6 and set(mass_cells["table"]) == {"IV"}
    cell = mass_cells.set_index(["quantity", "phase", "method"]).loc[
        ("mass_bias", "ES", "unet-dmr")
    ]
    assert cell["n"] == CASES["unet"] and cell["ci_low"] < cell["value"] < cell["ci_high"]
    assert "Mass (g" in table.display.index[-1] and "Table IV" in table.caption
    assert "No test on the mass rows" in " ".join(table.notes)


def test_table4_rejects_clinical_values_of_another_dataset() -> None:
    with pytest.raises(InputError, match="clinical tables are of 'acdc'"):
        table4(_metrics("lvsc"), _masses("acdc"))


def _mass_rows(model: str, offsets: list[float]) -> list[dict[str, object]]:
    """One model's ED and ES masses: prediction = reference + the case's offset."""
    arch, _, variant = model.partition("-")
    return [
        {"dataset": "lvsc", "model": model, "arch": arch, "variant": variant, "fold": 0,
         "case": f"case{case:02d}", "group": "", "quantity": f"myo_mass_{phase}_g",
         "reference": 120.0 + 7.0 * case, "prediction": 120.0 + 7.0 * case + offset}
        for case, offset in enumerate(offsets)
        for phase in ("ed", "es")
    ]  # fmt: skip


def test_table4_bolds_the_smaller_absolute_bias_not_the_narrower_limits() -> None:
    """The new user's case: one model's LoA is narrower but its bias is 1.5x larger."""
    n = CASES["unet"]
    narrow_but_biased = [-3.0 + 0.1 * (-1) ** k for k in range(n)]  # bias -3, LoA ~0.2
    centred_but_wide = [2.0 + 4.0 * (-1) ** k for k in range(n)]  # bias 2, LoA ~8.7
    clinical = pd.DataFrame(
        _mass_rows("unet-base", narrow_but_biased) + _mass_rows("unet-dmr", centred_but_wide)
    )
    metrics = _metrics("lvsc")
    metrics = metrics[metrics["arch"] == "unet"]
    table = table4(metrics, clinical)
    frame = table.frame.set_index("metric")
    assert frame.loc["Mass LoA (g)", "ED UNet"] < frame.loc["Mass LoA (g)", "ED DMR-UNet"]
    assert abs(frame.loc["Mass bias (g)", "ED UNet"]) == pytest.approx(3.0)
    assert frame.loc["Mass bias (g)", "ED DMR-UNet"] == pytest.approx(2.0)
    for phase in ("End Diastole (ED)", "End Systole (ES)"):
        bold = table.bold.loc["Mass (g) (Bias+LoA)", phase]
        assert bold.to_dict() == {"UNet": False, "DMR-UNet": True}
    notes = " ".join(table.notes)
    assert "the smallest absolute bias, ties at the printed precision broken by the narrower" in (
        notes
    )
    from dmr.tables import to_html, to_latex, to_markdown

    for rendered in (to_markdown(table), to_latex(table), to_html(table)):
        assert "smallest absolute bias" in rendered  # every rendering carries the rule


def test_agreement_bold_rule_ties_nan_and_sign() -> None:
    # A negative bias is judged by its size: -1.00 beats +1.50.
    assert best_agreement({"a": -1.0, "b": 1.5}, {"a": 9.0, "b": 1.0}) == {"a"}
    # Tied |bias| at the printed precision: the narrower limits of agreement decide.
    assert best_agreement({"a": 1.001, "b": -1.004}, {"a": 5.0, "b": 4.0}) == {"b"}
    # Tied and no LoA to tell them apart (n = 1): both stay bold.
    nan = float("nan")
    assert best_agreement({"a": 1.0, "b": -1.0}, {"a": nan, "b": nan}) == {"a", "b"}
    # A value that is not a number is never bold, in any rule.
    assert best_agreement({"a": nan, "b": 4.0}, {"a": 0.1, "b": 9.0}) == {"b"}
    assert best_agreement({"a": nan}, {"a": 1.0}) == set()
    assert is_best({"a": nan, "b": 0.5, "c": 0.4}, True, 2) == {"b"}
    assert is_best({"a": nan, "b": 0.5, "c": 0.4}, False, 2) == {"c"}
    assert is_best({"a": nan, "b": float("inf")}, True, 2) == set()


def test_bold_directions_of_the_comparison_metrics() -> None:
    """Higher Dice/Jaccard better, lower MSD/HD better (the DMR columns are better here)."""
    table = table6(_metrics("acdc_to_lvsc"), "a")
    for metric in ("Dice (%)", "Jaccard (%)", "MSD (mm)", "HD (mm)"):
        bold = table.bold.loc[metric, "End Diastole (ED)"]
        shown = table.display.loc[metric, "End Diastole (ED)"]
        values = shown.str.rstrip("*").astype(float)
        best = values.max() if "%" in metric else values.min()
        assert set(bold[bold].index) == set(values[values == best].index), metric


def test_table_nan_cell_is_never_bold() -> None:
    metrics = _metrics("lvsc")
    metrics.loc[metrics["model"] == "segnet-dmr", ["msd_mm", "hd_mm"]] = np.nan
    table = table4(metrics, _masses("lvsc"))
    for metric in ("MSD (mm)", "HD (mm)"):
        assert table.display.loc[metric, ("End Diastole (ED)", "DMR-SN")] == "–"
        assert not table.bold.loc[metric, ("End Diastole (ED)", "DMR-SN")]
        assert table.bold.loc[metric, "End Diastole (ED)"].any()


def test_captions_define_only_the_abbreviations_of_the_models_shown() -> None:
    every = table6(_metrics("acdc_to_lvsc"), "a")
    assert "SN: SegNet, USN: USegNet." in every.caption
    metrics = _metrics("acdc_to_lvsc")
    unet_only = table6(metrics[metrics["arch"] == "unet"], "a")
    assert "SN" not in unet_only.caption and "SegNet" not in unet_only.caption
    with_segnet = table6(metrics[metrics["arch"] != "usegnet"], "a")
    assert "SN: SegNet." in with_segnet.caption and "USN" not in with_segnet.caption
