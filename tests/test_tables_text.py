"""Cells of the numbers the paper quotes in its text: abstract Dice and the learned sigmas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmr.errors import InputError
from dmr.tables.cells import Bootstrap
from dmr.tables.text import text_cells


def metrics(dataset: str, model: str, structures: tuple[str, ...], dice: dict) -> pd.DataFrame:
    rows = [
        {
            "dataset": dataset,
            "model": model,
            "case": case,
            "phase": phase,
            "structure": s,
            "dice": value,
        }
        for (case, phase), values in dice.items()
        for s, value in zip(structures, values, strict=True)
    ]
    return pd.DataFrame(rows)


def history(root: Path, dataset: str, fold: int, sigmas: list[tuple[float, float, float]]) -> Path:
    path = root / "results" / dataset / "models" / "unet-dmr" / f"fold{fold}" / "history.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(
        [
            {"epoch": e + 1, "val_dice": d, "sigma_ce": c, "sigma_mad": m}
            for e, (d, c, m) in enumerate(sigmas)
        ]
    ).to_csv(path, index=False)
    return path


def test_abstract_dice_is_the_mean_and_sd_over_volumes(tmp_path):
    acdc = metrics(
        "acdc",
        "unet-dmr",
        ("rv", "myo", "lv"),
        {
            ("p1", "ED"): (0.8, 0.9, 1.0),
            ("p1", "ES"): (0.6, 0.7, 0.8),
            ("p2", "ED"): (1.0, 1.0, 1.0),
        },
    )
    cross = metrics(
        "lvsc_to_acdc", "unet-base", ("myo",), {("p1", "ED"): (0.5,), ("p1", "ES"): (0.7,)}
    )
    cells = text_cells(acdc, cross, [], Bootstrap(n_resamples=199)).set_index(
        ["dataset", "method", "quantity"]
    )
    per_volume = np.array([0.9, 0.7, 1.0])
    assert cells.loc[("acdc", "unet-dmr", "dice_mean"), "value"] == pytest.approx(per_volume.mean())
    assert cells.loc[("acdc", "unet-dmr", "dice_sd"), "value"] == pytest.approx(
        per_volume.std(ddof=1)
    )
    assert cells.loc[("acdc", "unet-dmr", "dice_mean"), "structure"] == "mean"
    assert cells.loc[("acdc", "unet-dmr", "dice_mean"), "n"] == 3
    assert cells.loc[("lvsc_to_acdc", "unet-base", "dice_mean"), "structure"] == "myo"
    assert cells.loc[("lvsc_to_acdc", "unet-base", "dice_mean"), "value"] == pytest.approx(0.6)
    assert set(cells.reset_index()["table"]) == {"text"}


def test_sigmas_are_those_of_each_folds_best_validation_epoch(tmp_path):
    paths = [
        history(tmp_path, "acdc", 0, [(0.5, 1.0, 5.0), (0.9, 0.1, 15.0), (0.7, 0.05, 20.0)]),
        history(tmp_path, "acdc", 1, [(0.8, 0.3, 13.0), (0.6, 0.2, 14.0)]),
    ]
    cells = text_cells(pd.DataFrame(), pd.DataFrame(), paths, Bootstrap(n_resamples=199))
    by = cells.set_index("quantity")
    assert by.loc["sigma_ce", "value"] == pytest.approx((0.1 + 0.3) / 2)
    assert by.loc["sigma_mad", "value"] == pytest.approx((15.0 + 13.0) / 2)
    assert (cells["n"] == 2).all() and (cells["dataset"] == "acdc").all()


def test_other_models_are_refused():
    wrong = metrics("acdc", "unet-base", ("myo",), {("p1", "ED"): (0.5,)})
    with pytest.raises(InputError, match="DMR-UNet"):
        text_cells(wrong, pd.DataFrame(), [])
