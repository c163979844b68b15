"""Results tables of data the paper does not have (dmr.tables.generic)."""

from __future__ import annotations

import pandas as pd
import pytest

from dmr.errors import InputError
from dmr.tables.cells import Bootstrap
from dmr.tables.generic import results_table
from dmr.tables.render import to_markdown


def _rows(dataset: str, structures: list[str], groups: list[str], n: int) -> pd.DataFrame:
    """DMR-U-Net better than U-Net by 0.02 Dice in every case: with 6 cases p = 0.031."""
    rows = []
    for variant in ("base", "dmr"):
        for case in range(n):
            for phase in ("ED", "ES"):
                for structure in structures:
                    dice = 0.7 + 0.01 * case + (0.02 + 0.001 * case if variant == "dmr" else 0)
                    rows.append(
                        {
                            "dataset": dataset,
                            "model": f"unet-{variant}",
                            "arch": "unet",
                            "variant": variant,
                            "fold": case % 2,
                            "case": f"c{case:02d}",
                            "group": groups[case % len(groups)],
                            "phase": phase,
                            "structure": structure,
                            "dice": dice,
                            "jaccard": dice / (2 - dice),
                            "msd_mm": 5 * (1 - dice),
                            "hd_mm": 30 * (1 - dice),
                        }
                    )
    return pd.DataFrame(rows)


def test_dataset_table_has_a_block_per_structure_with_markers() -> None:
    metrics = _rows("mine", ["rv", "myo", "lv"], [""], 6)
    table = results_table(metrics, "results_mine", bootstrap=Bootstrap(n_resamples=99))
    assert table.frame["structure"].drop_duplicates().tolist() == ["rv", "myo", "lv"]
    assert len(table.frame) == 3 * 4
    assert table.display.index[0] == "RV blood-pool: Dice (%)"
    dice = table.display.loc["LV myocardium: Dice (%)"]
    assert dice[("End Diastole (ED)", "DMR-UNet")].endswith("*")
    assert set(table.cells["structure"]) == {"rv", "myo", "lv"}
    assert set(table.cells["table"]) == {"results_mine"}
    assert "results_mine: results on MINE" in to_markdown(table)


def test_myocardium_only_dataset_and_cross_pair_levels() -> None:
    metrics = _rows("a_to_b", ["myo"], [""], 6)
    table = results_table(metrics, "cross_a_to_b", kind="cross", bootstrap=Bootstrap(99))
    assert table.frame["structure"].unique().tolist() == ["myo"]
    # p = 0.031 is below 0.05 but not below the cross-dataset 0.01: no marker
    assert not table.display.loc["LV myocardium: Dice (%)"].str.endswith("*").any()
    assert "trained on A and tested on B" in table.caption


def test_groups_table_has_a_block_per_held_out_group() -> None:
    metrics = _rows("mnms", ["rv", "myo", "lv"], ["A", "B"], 8)
    table = results_table(
        metrics, "lovo_mnms", kind="groups", bootstrap=Bootstrap(99), group_label="vendor"
    )
    assert table.frame["vendor"].drop_duplicates().tolist() == ["A", "B"]
    assert "vendor B: Dice (%)" in table.display.index
    assert set(table.cells["dataset"]) == {"mnms:A", "mnms:B"}
    assert "leave-one-vendor-out on MNMS" in table.caption


def test_groups_table_needs_groups() -> None:
    with pytest.raises(InputError, match="no group to leave out"):
        results_table(_rows("x", ["myo"], [""], 4), "lovo_x", kind="groups")


def test_dmr_cells_record_whether_the_difference_replicates_in_every_fold_network() -> None:
    """Six cases per fold, DMR better in each: p = 0.031 per fold, 2/2 at the 0.05 level; the
    same pooled difference carried by one fold only replicates in 1 of 2."""
    from dmr.tables.comparison import TABLE4, comparison_table

    metrics = _rows("lvsc", ["myo"], [""], 12)
    cells = comparison_table(metrics, TABLE4, Bootstrap(99)).cells
    dmr = cells[cells["method"] == "unet-dmr"]
    assert set(dmr["replicated"]) == {"2/2"}
    assert set(cells.loc[cells["method"] == "unet-base", "replicated"]) == {""}
    # fold 1's DMR network no better than its baseline: the difference lives in fold 0 alone
    fold1_dmr = (metrics["fold"] == 1) & (metrics["variant"] == "dmr")
    for column, shift in (("dice", -0.04), ("jaccard", -0.04), ("msd_mm", 0.2), ("hd_mm", 1.2)):
        metrics.loc[fold1_dmr, column] += shift
    cells = comparison_table(metrics, TABLE4, Bootstrap(99)).cells
    assert set(cells.loc[cells["method"] == "unet-dmr", "replicated"]) == {"1/2"}


def test_ensemble_cells_replicate_through_each_fold_networks_own_metrics() -> None:
    from dmr.tables.comparison import table6

    ensemble = _rows("acdc_to_lvsc", ["myo"], [""], 12).assign(fold=-1)
    assert set(table6(ensemble, "a", Bootstrap(99)).cells["replicated"]) == {""}
    members = pd.concat([ensemble.assign(fold=0), ensemble.assign(fold=1)])
    cells = table6(ensemble, "a", Bootstrap(99), fold_metrics=members).cells
    # twelve cases all better: p = 0.00049 < 0.01 in each fold network
    assert set(cells.loc[cells["method"] == "unet-dmr", "replicated"]) == {"2/2"}
