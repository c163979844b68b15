"""Figs. 4-7: mean Dice and 95 % bootstrap CI per model and region, group, weighting, threshold.

Each figure has a table builder (tidy metric rows -> one row per plotted point, intervals
computed once in :mod:`dmr.figures.summaries`) and a plot function that draws exactly that table
as points with error bars. The ``write_*`` functions read the metric CSVs, build, plot and save
the PNG, PDF and CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dmr.errors import InputError
from dmr.figures.io import read_tables, save_figure
from dmr.figures.points import point_ci_axes, point_legend
from dmr.figures.style import (
    GROUPS,
    PAPER_MODELS,
    REGION_ORDER,
    STRUCTURE_NAMES,
    add_note,
    figure_style,
    model_colour,
    model_label,
    ordered_models,
)
from dmr.figures.summaries import (
    EMPTY_SLICE_RULE,
    require_columns,
    slice_dice,
    summarize,
    volume_dice,
)
from dmr.labels import FORMAT_STRUCTURES, STRUCTURE_ABBREVIATIONS

ACDC_STRUCTURES: tuple[str, ...] = FORMAT_STRUCTURES["acdc"]
LVSC_STRUCTURES: tuple[str, ...] = FORMAT_STRUCTURES["lvsc"]


# --------------------------------------------------------------------------- helpers
def _structures_text(structures: Sequence[str]) -> str:
    return ", ".join(STRUCTURE_NAMES[s] for s in structures)


def _abbreviated(structures: Sequence[str]) -> str:
    return ", ".join(STRUCTURE_ABBREVIATIONS[s] for s in structures)


def _sort(table: pd.DataFrame, orders: Mapping[str, Sequence]) -> pd.DataFrame:
    """Rows in plotting order: each column of ``orders`` by its listed order."""
    keys = {c: table[c].map({v: i for i, v in enumerate(order)}) for c, order in orders.items()}
    position = pd.DataFrame(keys)
    return table.iloc[np.lexsort([position[c] for c in reversed(list(orders))])].reset_index(
        drop=True
    )


def absent_note(absent: Sequence[str]) -> str:
    """Title line naming the models a figure would show but the config did not run."""
    return f"Not run (absent from the config): {', '.join(absent)}." if absent else ""


def _paper_absent(models: Sequence[str]) -> str:
    return absent_note([m for m in PAPER_MODELS if m not in set(models)])


def _dataset_label(name: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(name, name.upper())


def _n_text(table: pd.DataFrame) -> str:
    n = table["n"]
    return f"n = {n.min()}" if n.min() == n.max() else f"n = {n.min()}-{n.max()}"


# --------------------------------------------------------------------------- Fig. 4
def regional_table(
    slices: pd.DataFrame,
    structures: Sequence[str],
    *,
    n_resamples: int,
    seed: int,
    what: str = "slice table",
) -> pd.DataFrame:
    """Fig. 4: per model and region, the mean per-slice Dice over ``structures`` and its CI.

    Columns ``dataset, model, label, region`` + the summary columns + ``unit, empty_slices``.
    """
    units = slice_dice(slices, structures, what)
    unknown = sorted(set(units["region"]) - set(REGION_ORDER))
    if unknown:
        raise InputError(f"{what}: unknown region(s) {unknown}; expected {list(REGION_ORDER)}")
    table = summarize(
        units, ["dataset", "model", "region"], "dice", n_resamples=n_resamples, seed=seed
    )
    table = _sort(table, {"model": ordered_models(table["model"]), "region": REGION_ORDER})
    table.insert(2, "label", table["model"].map(model_label))
    table["unit"] = f"slice (case x phase x slice); mean Dice over {', '.join(structures)}"
    table["empty_slices"] = EMPTY_SLICE_RULE
    return table


def _plot_models_by(
    table: pd.DataFrame,
    *,
    x: str,
    order: Sequence[str],
    xlabel: str,
    ylabel: str,
    title: str,
    width: float,
    left: float,
    note_width: int | None,
) -> Figure:
    """Figs. 4 and 5 share one layout: categories on x, one point + 95 % CI per model.

    ``note_width``: the wrap width of the note naming the paper's models the run lacks; None
    for a figure that is not the paper's (no such note)."""
    models = ordered_models(table["model"])
    categories = [c for c in order if c in set(table[x])]
    with figure_style():
        fig, ax = plt.subplots(figsize=(width, 3.4))
        colours = [model_colour(m) for m in models]
        point_ci_axes(
            ax,
            table,
            x=x,
            x_order=categories,
            x_labels=categories,
            hue="model",
            hue_order=models,
            colours=colours,
        )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if note_width is not None:
            add_note(fig, _paper_absent(models), note_width)
        point_legend(fig, [model_label(m) for m in models], colours, None)
        fig.subplots_adjust(left=left, right=0.98, top=0.85, bottom=0.27)
    return fig


def plot_regional(table: pd.DataFrame, *, title: str, ylabel: str) -> Figure:
    """Fig. 4a/4b: x = apical, mid, basal; one point + 95 % CI per model."""
    return _plot_models_by(
        table,
        x="region",
        order=REGION_ORDER,
        xlabel="slice region",
        ylabel=ylabel,
        title=f"{title} ({_n_text(table)} slices per point)",
        width=5.0,
        left=0.13,
        note_width=120,
    )


def write_regional(
    slice_csvs: Sequence[Path],
    prefix: Path,
    *,
    structures: Sequence[str],
    title: str,
    n_resamples: int,
    seed: int,
) -> None:
    """Fig. 4a (ACDC, ``structures`` rv/myo/lv) or 4b (LVSC, myo) from per-slice metric CSVs."""
    what = ", ".join(map(str, slice_csvs))
    table = regional_table(
        read_tables(slice_csvs, "per-slice metric"),
        structures,
        n_resamples=n_resamples,
        seed=seed,
        what=what,
    )
    ylabel = (
        f"Dice per slice (mean of {len(structures)} structures)"
        if len(structures) > 1
        else f"Dice per slice ({_structures_text(structures)})"
    )
    save_figure(plot_regional(table, title=title, ylabel=ylabel), prefix, table)


# --------------------------------------------------------------------------- Fig. 5
def group_table(
    metrics: pd.DataFrame, *, n_resamples: int, seed: int, what: str = "metric table"
) -> pd.DataFrame:
    """Fig. 5: per model and ACDC group, the mean per-volume Dice (mean of RV, myo, LV) + CI."""
    units = volume_dice(metrics, ACDC_STRUCTURES, what)
    unknown = sorted(set(units["group"].astype(str)) - set(GROUPS))
    if unknown:
        raise InputError(f"{what}: group(s) {unknown} are not ACDC's {list(GROUPS)}")
    table = summarize(
        units, ["dataset", "model", "group"], "dice", n_resamples=n_resamples, seed=seed
    )
    table = _sort(table, {"model": ordered_models(table["model"]), "group": GROUPS})
    table.insert(2, "label", table["model"].map(model_label))
    table["unit"] = "volume (case x phase); mean Dice over rv, myo, lv"
    return table


def plot_groups(table: pd.DataFrame) -> Figure:
    """Fig. 5: x = DCM, HCM, MINF, NOR, RV; one point + 95 % CI per model."""
    return _plot_models_by(
        table,
        x="group",
        order=GROUPS,
        xlabel="patient group",
        ylabel=f"Dice per volume (mean of {_abbreviated(ACDC_STRUCTURES)})",
        title=f"ACDC: Dice per patient group ({_n_text(table)} volumes per point)",
        width=6.0,
        left=0.11,
        note_width=140,
    )


def write_groups(metric_csvs: Sequence[Path], prefix: Path, *, n_resamples: int, seed: int) -> None:
    """Fig. 5 from the ACDC per-case metric CSVs."""
    what = ", ".join(map(str, metric_csvs))
    metrics = read_tables(metric_csvs, "metric")
    table = group_table(metrics, n_resamples=n_resamples, seed=seed, what=what)
    save_figure(plot_groups(table), prefix, table)


# --------------------------------------------------------------------------- Figs. 6 and 7
def _level_key(level: str | float) -> tuple:
    """Learned before fixed (the paper's order); thresholds ascending."""
    if isinstance(level, str):
        return (0, ("learned", "fixed").index(level) if level in ("learned", "fixed") else 2, level)
    return (1, 0, float(level))


def ablation_table(
    metrics: pd.DataFrame,
    levels: Mapping[str, str | float],
    *,
    level_column: str,
    n_resamples: int,
    seed: int,
    dataset_labels: Mapping[str, str] | None = None,
    what: str = "metric table",
) -> pd.DataFrame:
    """Figs. 6/7: per dataset and model, mean per-volume Dice and CI; ``levels`` maps each model
    to its ablation level (``learned``/``fixed`` or the threshold T), stored in ``level_column``.

    Dice per volume is the mean over the structures of the dataset's format (ACDC three, LVSC
    myocardium), judged from the structures present in each dataset's rows.
    """
    require_columns(metrics, ["dataset", "model", "structure"], what)
    unknown = sorted(set(levels) - set(metrics["model"]))
    if unknown:
        raise InputError(f"{what}: no rows for model(s) {unknown}")
    metrics = metrics[metrics["model"].isin(list(levels))]
    units = []
    for dataset, rows in metrics.groupby("dataset", sort=True):
        structures = [s for s in ACDC_STRUCTURES if s in set(rows["structure"])]
        units.append(volume_dice(rows, structures, f"{what} (dataset {dataset})"))
    tidy = pd.concat(units, ignore_index=True)
    tidy[level_column] = tidy["model"].map(levels)
    clashes = tidy.groupby(["dataset", level_column])["model"].nunique()
    if (clashes > 1).any():
        raise InputError(f"two models share one {level_column} on one dataset: {dict(levels)}")
    table = summarize(
        tidy,
        ["dataset", "model", level_column],
        "dice",
        n_resamples=n_resamples,
        seed=seed,
    )
    order = sorted(set(levels.values()), key=_level_key)
    table = _sort(table, {"dataset": sorted(set(table["dataset"])), level_column: order})
    table.insert(
        1, "dataset_label", table["dataset"].map(lambda d: _dataset_label(d, dataset_labels))
    )
    table.insert(3, "label", table["model"].map(model_label))
    structures = {
        d: [s for s in ACDC_STRUCTURES if s in set(r["structure"])]
        for d, r in metrics.groupby("dataset")
    }
    table["unit"] = table["dataset"].map(
        lambda d: "volume (case x phase); mean Dice over " + ", ".join(structures[d])
    )
    return table


def level_models(table: pd.DataFrame, level_column: str) -> dict[object, str]:
    """The model of each ablation level (the first, should datasets differ), in plot order."""
    first = table.drop_duplicates(level_column)
    return dict(zip(first[level_column], first["model"].astype(str), strict=True))


def plot_ablation(
    table: pd.DataFrame,
    *,
    level_column: str,
    level_labels: Mapping,
    legend_title: str,
    title: str,
    note: str = "",
) -> Figure:
    """Figs. 6/7: x = dataset; one point + 95 % CI per ablation level, in its model's colour
    (the one :func:`dmr.labels.model_colour` gives it in every figure) and named with it."""
    datasets = list(dict.fromkeys(table["dataset"]))
    labels = dict(zip(table["dataset"], table["dataset_label"], strict=False))
    models = level_models(table, level_column)
    levels = list(models)
    colours = [model_colour(models[v]) for v in levels]
    with figure_style():
        fig, ax = plt.subplots(figsize=(4.4, 3.6))
        point_ci_axes(
            ax,
            table,
            x="dataset",
            x_order=datasets,
            x_labels=[labels[d] for d in datasets],
            hue=level_column,
            hue_order=levels,
            colours=colours,
        )
        ax.set_xlabel("dataset")
        ax.set_ylabel("Dice per volume")
        ax.set_title(f"{title}\n({_n_text(table)} volumes per point)")
        add_note(fig, note, 95)
        legend = [f"{level_labels[v]}: {model_label(models[v])}" for v in levels]
        point_legend(fig, legend, colours, legend_title, ncol=1 if len(levels) > 2 else None)
        fig.subplots_adjust(left=0.16, right=0.97, top=0.85, bottom=0.3)
    return fig


def write_weighting(
    metric_csvs: Sequence[Path],
    prefix: Path,
    *,
    weighting: Mapping[str, str],
    n_resamples: int,
    seed: int,
    dataset_labels: Mapping[str, str] | None = None,
    absent: Sequence[str] = (),
) -> None:
    """Fig. 6: learned vs fixed task weighting; ``weighting`` maps model -> learned|fixed."""
    bad = {m: w for m, w in weighting.items() if w not in ("learned", "fixed")}
    if bad:
        raise InputError(f"weighting must be 'learned' or 'fixed', got {bad}")
    what = ", ".join(map(str, metric_csvs))
    table = ablation_table(
        read_tables(metric_csvs, "metric"),
        weighting,
        level_column="weighting",
        n_resamples=n_resamples,
        seed=seed,
        dataset_labels=dataset_labels,
        what=what,
    )
    fig = plot_ablation(
        table,
        level_column="weighting",
        level_labels={"learned": "learned (Eq. 7)", "fixed": "fixed, equal"},
        legend_title="task weighting",
        title="Learned vs fixed task weighting",
        note=absent_note(absent),
    )
    save_figure(fig, prefix, table)


def write_threshold(
    metric_csvs: Sequence[Path],
    prefix: Path,
    *,
    thresholds: Mapping[str, float],
    n_resamples: int,
    seed: int,
    dataset_labels: Mapping[str, str] | None = None,
    absent: Sequence[str] = (),
) -> None:
    """Fig. 7: distance-map threshold T; ``thresholds`` maps model -> T (pixels, from config)."""
    what = ", ".join(map(str, metric_csvs))
    table = ablation_table(
        read_tables(metric_csvs, "metric"),
        thresholds,
        level_column="threshold",
        n_resamples=n_resamples,
        seed=seed,
        dataset_labels=dataset_labels,
        what=what,
    )
    fig = plot_ablation(
        table,
        level_column="threshold",
        level_labels={t: f"T = {t:g}" for t in table["threshold"]},
        legend_title="distance-map threshold (pixels)",
        title="Distance-map threshold",
        note=absent_note(absent),
    )
    save_figure(fig, prefix, table)
