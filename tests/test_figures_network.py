"""Figs. S2-S5: distance maps, feature maps, weight histograms and learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dmr.errors import InputError
from dmr.figures import network, training, weights
from dmr.figures.io import figure_paths
from dmr.models import build_model
from dmr.preprocess import preprocess_dataset
from dmr.preprocess.distance import class_distance_maps
from dmr.train.checkpoint import save_checkpoint

WIDTH = 2


@pytest.fixture(scope="module")
def preprocessed(acdc_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pre") / "preprocessed"
    preprocess_dataset("acdc", acdc_root, out, spacing=4.0, size=48, clip_percentile=99.0)
    return out


def _save(
    path: Path, model_name: str, fold: int, dataset: str = "acdc", kind: str = "model"
) -> Path:
    """A bundle like dmr.train writes: the DMR checkpoint keeps its regularizer."""
    arch, _, variant = model_name.partition("-")
    torch.manual_seed(fold + 10 * (variant != "base"))
    regularized = kind == "checkpoint" and variant != "base"
    net = build_model(arch, regularized, num_classes=4, width=WIDTH)
    save_checkpoint(
        path,
        {
            "kind": kind,
            "model_config": net.config.to_dict(),
            "state_dict": net.state_dict(),
            "model_name": model_name,
            "dataset": dataset,
            "fold": fold,
            "train_config": {"threshold": 20.0},
        },
    )
    return path


def _selection(tmp_path: Path) -> Path:
    path = tmp_path / "unet-dmr.csv"
    pd.DataFrame(
        [
            {"dataset": "acdc", "model": "unet-dmr", "fold": 1, "case": "patient002",
             "group": "NOR", "phase": "ED", "structure": s, "dice": 0.8}
            for s in ("rv", "myo", "lv")
        ]
    ).to_csv(path, index=False)  # fmt: skip
    return path


def test_thresholding_reference_distance_maps_recovers_the_labels() -> None:
    labels = np.zeros((2, 32, 32), dtype=np.uint8)
    labels[0, 5:15, 5:12] = 1
    labels[0, 8:20, 14:26] = 2
    labels[0, 11:17, 17:23] = 3
    labels[1, 20:30, 3:9] = 3
    maps = np.stack([class_distance_maps(s, 4, 250.0) for s in labels])
    assert np.array_equal(network.classes_from_distance_maps(maps), labels)


def test_distance_map_figure_uses_the_fold_that_tested_the_case(
    preprocessed: Path, tmp_path: Path
) -> None:
    checkpoints = [
        _save(tmp_path / f"fold{k}" / "checkpoint.pt", "unet-dmr", k, kind="checkpoint")
        for k in (0, 1)
    ]
    chosen = network.write_distance_maps(
        checkpoints, _selection(tmp_path), preprocessed, tmp_path / "figS2"
    )
    assert chosen["fold"] == 1
    assert figure_paths(tmp_path / "figS2")["png"].stat().st_size > 20_000
    with pytest.raises(InputError, match="expected one file of fold 1"):
        network.write_distance_maps(
            checkpoints[:1], _selection(tmp_path), preprocessed, tmp_path / "x"
        )
    base = _save(tmp_path / "base.pt", "unet-base", 1, kind="checkpoint")
    with pytest.raises(InputError, match="not a regularized"):
        network.write_distance_maps([base], _selection(tmp_path), preprocessed, tmp_path / "x")


def test_feature_maps_are_captured_at_the_three_depths(preprocessed: Path, tmp_path: Path) -> None:
    bundle = network.load_bundles([_save(tmp_path / "m.pt", "unet-dmr", 0)], "model")[0]
    maps, classes = network.feature_maps(bundle, np.zeros((48, 48), dtype=np.float32))
    shapes = {name: m.shape for name, m in maps.items()}
    assert shapes == {
        "encoder.level1": (WIDTH, 48, 48),
        "encoder.bottleneck": (8 * WIDTH, 3, 3),
        "decoder.refine": (WIDTH, 48, 48),
    }
    assert classes.shape == (48, 48)
    base = [_save(tmp_path / f"b{k}.pt", "unet-base", k) for k in (0, 1)]
    dmr = [_save(tmp_path / f"d{k}.pt", "unet-dmr", k) for k in (0, 1)]
    network.write_feature_maps(base, dmr, _selection(tmp_path), preprocessed, tmp_path / "figS3")
    assert figure_paths(tmp_path / "figS3")["pdf"].stat().st_size > 5_000


def test_mosaic_scales_each_map_to_its_own_range() -> None:
    maps = np.stack([np.arange(4.0).reshape(2, 2), np.full((2, 2), 7.0), -np.ones((2, 2))])
    tiled = network.mosaic(maps, gap=1)
    assert tiled.shape == (5, 5)
    assert np.allclose(tiled[:2, :2], [[0, 1 / 3], [2 / 3, 1]])
    assert np.array_equal(tiled[:2, 3:], np.zeros((2, 2)))  # a constant map shows as 0
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[3:, 3:]).all()


def test_weight_histograms_pool_every_fold_of_each_pair(tmp_path: Path) -> None:
    files = [
        _save(tmp_path / d / m / f"fold{k}.pt", m, k, dataset=d)
        for d in ("acdc", "lvsc")
        for m in ("unet-base", "unet-dmr", "segnet-base")
        for k in (0, 1)
    ]
    bundles = network.load_bundles(files, "model")
    table, note = weights.weight_table(bundles, bins=20)
    assert set(table["arch"]) == {"unet"}  # segnet has no DMR version here
    assert "segnet-base" in note
    per_model = table.groupby(["dataset", "model"])
    n_weights = len(weights.convolution_weights(bundles[0])) * 2
    assert (per_model["n"].sum() == n_weights).all()
    assert (per_model["n_folds"].first() == 2).all()
    area = (table["density"] * (table["bin_high"] - table["bin_low"])).groupby(
        [table["dataset"], table["model"]]
    )
    assert np.allclose(area.sum(), 1.0)
    for run in ("a", "b"):
        weights.write_weights(files, tmp_path / run / "figS5")
    assert figure_paths(tmp_path / "a" / "figS5")["csv"].read_bytes() == (
        figure_paths(tmp_path / "b" / "figS5")["csv"].read_bytes()
    )


def _history(path: Path, variant: str, offset: float, epochs: int = 3) -> Path:
    dmr = variant != "base"
    rows = [
        {"epoch": e, "train_dice_loss": 0.5 / e + offset, "val_dice_loss": 0.6 / e + offset,
         "train_mad": 10.0 / e if dmr else np.nan, "val_mad": 12.0 / e if dmr else np.nan,
         "weight_ce": 1.0 + e if dmr else 1.0, "weight_mad": 1.0 / (1 + e) if dmr else np.nan,
         "sigma_ce_ratio": 0.9 + 0.05 * e if dmr else np.nan,
         "sigma_mad_ratio": 0.5 * e if dmr else np.nan}
        for e in range(1, epochs + 1)
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_learning_curves_average_over_folds(tmp_path: Path) -> None:
    paths = [
        _history(tmp_path / "results" / d / "models" / m / f"fold{k}" / "history.csv",
                 m.partition("-")[2], 0.1 * k)
        for d in ("acdc", "lvsc")
        for m in ("unet-base", "unet-dmr")
        for k in (0, 1, 2)
    ]  # fmt: skip
    table = training.curve_table(training.read_histories(paths), n_resamples=99, seed=0)
    base = table[table["model"] == "unet-base"]
    assert set(base["quantity"]) == {"train_dice_loss", "val_dice_loss"}  # no MAD, no weights
    first = table.set_index(["dataset", "model", "quantity", "epoch"]).loc[
        ("acdc", "unet-dmr", "train_dice_loss", 1)
    ]
    assert first["mean"] == pytest.approx(0.6) and first["n"] == 3
    ratios = table[table["quantity"] == "sigma_mad_ratio"]
    assert set(ratios["model"]) == {"unet-dmr"} and ratios["mean"].tolist()[:3] == [0.5, 1, 1.5]
    training.write_curves(paths, tmp_path / "figS4", n_resamples=99, seed=0)
    assert figure_paths(tmp_path / "figS4")["png"].stat().st_size > 20_000
    with pytest.raises(InputError, match="expected a path like"):
        training.read_histories([tmp_path / "history.csv"])


def _curve_figure(tmp_path: Path, folds: tuple[int, ...]):
    """Fig. S4 of U-Net, DMR-U-Net and its fixed-weight and T = 5 variants over ``folds``."""
    models = ("unet-base", "unet-dmr", "unet-dmr_fixed", "unet-dmr_t5")
    paths = [
        _history(tmp_path / "results" / "acdc" / "models" / m / f"fold{k}" / "history.csv",
                 m.partition("-")[2], 0.1 * k)
        for m in models
        for k in folds
    ]  # fmt: skip
    table = training.curve_table(training.read_histories(paths), n_resamples=99, seed=0)
    return table, training.plot_curves(table)


def test_learning_curves_from_two_folds_draw_each_fold_not_an_interval(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    table, fig = _curve_figure(tmp_path, (0, 1))
    # The CSV holds every fold's own value beside the mean.
    assert {"fold0", "fold1"} <= set(table.columns)
    row = table[(table["model"] == "unet-dmr") & (table["quantity"] == "train_dice_loss")].iloc[0]
    assert row["mean"] == pytest.approx((row["fold0"] + row["fold1"]) / 2)
    for ax in fig.axes:
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)], ax.get_title()
    fold_lines = [
        line for ax in fig.axes for line in ax.lines if "fold-line" in (line.get_gid() or "")
    ]
    drawn = {line.get_gid().split()[1] for line in fold_lines}
    assert drawn == {"unet-base", "unet-dmr", "unet-dmr_fixed", "unet-dmr_t5"}
    assert all(line.get_linewidth() < 1 for line in fold_lines)  # thin
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("one fold" in t for t in legend) and not any("CI" in t for t in legend)
    assert "each fold" in fig._suptitle.get_text() and "CI" not in fig._suptitle.get_text()
    plt.close(fig)

    table, fig = _curve_figure(tmp_path / "three", (0, 1, 2))
    assert any(isinstance(c, PolyCollection) for ax in fig.axes for c in ax.collections)
    assert not [line for ax in fig.axes for line in ax.lines if line.get_gid()]
    plt.close(fig)


def test_learning_curves_keep_every_model_visible_main_model_on_top(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from dmr.labels import model_colour

    _, fig = _curve_figure(tmp_path, (0, 1, 2))
    for ax in fig.axes:
        means = [line for line in ax.lines if not line.get_gid()]  # no fold lines with 3 folds
        by_colour = {to_rgb(line.get_color()): line for line in means}
        main = by_colour.get(model_colour("unet-dmr"))
        if main is None:
            continue
        others = [line for line in means if line is not main]
        assert all(main.get_zorder() > line.get_zorder() for line in others), ax.get_title()
        for model in ("unet-dmr_fixed", "unet-dmr_t5"):
            line = by_colour.get(model_colour(model))
            if line is not None:  # under the main model, still seen: dashed and with markers
                assert line.get_linestyle() != "-" and line.get_marker() not in (None, "None")
    plt.close(fig)
