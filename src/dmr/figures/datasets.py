"""Figs. 4 and 5 for data the paper lacks: Dice per slice region and per group of any dataset.

The paper draws these for ACDC only (:mod:`dmr.figures.dice`: three structures, five pathology
groups). Here the structures are those the dataset's metric CSVs hold (in the order RV, myo, LV)
and the groups whatever their ``group`` column holds (M&Ms: the vendors), sorted; a dataset whose
rows carry no group gets one point per model over all its cases. The tables are built with the
same units and bootstrap intervals as the paper's figures (:mod:`dmr.figures.summaries`), and
each figure writes its PNG, PDF and the CSV of every number it plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dmr.errors import InputError
from dmr.figures.dice import (
    _abbreviated,
    _n_text,
    _plot_models_by,
    _sort,
    _structures_text,
    regional_table,
)
from dmr.figures.io import read_tables, save_figure
from dmr.figures.style import (
    REGION_ORDER,
    model_label,
    ordered_models,
)
from dmr.figures.summaries import require_columns, summarize, volume_dice
from dmr.labels import STRUCTURE_LABELS

#: Structures in the order every figure lists them.
STRUCTURE_ORDER: tuple[str, ...] = tuple(STRUCTURE_LABELS)
#: The one point of a dataset whose rows carry no group.
ALL_CASES = "all cases"
#: Rows without a group, in a dataset where other rows have one.
NO_GROUP = "no group"


def present_structures(table: pd.DataFrame, what: str) -> list[str]:
    """The structures with rows in ``table``, in the order RV, myo, LV."""
    require_columns(table, ["structure"], what)
    found = set(table["structure"].dropna().astype(str))
    unknown = sorted(found - set(STRUCTURE_ORDER))
    if unknown:
        raise InputError(f"{what}: unknown structure(s) {unknown}; known {list(STRUCTURE_ORDER)}")
    if not found:
        raise InputError(f"{what}: no metric rows")
    return [s for s in STRUCTURE_ORDER if s in found]


def _one_dataset(table: pd.DataFrame, what: str) -> str:
    require_columns(table, ["dataset"], what)
    datasets = sorted(set(table["dataset"].astype(str)))
    if len(datasets) != 1:
        raise InputError(f"{what}: expected the rows of one dataset, found {datasets}")
    return datasets[0]


def _group_name(value: object) -> str:
    """A ``group`` cell as text: '' for none, ``3`` for 3.0 (a CSV column with gaps)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _group_key(group: str) -> tuple:
    """Numbers numerically, then names alphabetically, the no-group points last."""
    if group in (ALL_CASES, NO_GROUP):
        return (2, 0.0, group)
    try:
        return (0, float(group), group)
    except ValueError:
        return (1, 0.0, group)


def _ylabel(structures: Sequence[str], unit: str) -> str:
    if len(structures) > 1:
        return f"Dice per {unit} (mean of {_abbreviated(structures)})"
    return f"Dice per {unit} ({_structures_text(structures)})"


def _plot_points(
    table: pd.DataFrame, *, x: str, order: Sequence[str], xlabel: str, ylabel: str, title: str
) -> Figure:
    """Figs. 4 and 5's layout (:func:`dmr.figures.dice._plot_models_by`), as wide as the number
    of categories needs; no note on the paper's models (these are not its figures)."""
    n_models = len(set(table["model"]))
    n_categories = len([c for c in order if c in set(table[x])])
    width = min(max(4.6, 1.6 + 0.35 * n_categories * max(n_models, 2)), 12.0)
    return _plot_models_by(
        table,
        x=x,
        order=order,
        xlabel=xlabel,
        ylabel=ylabel,
        title=title,
        width=width,
        left=0.6 / width + 0.05,
        note_width=None,
    )


# --------------------------------------------------------------------------- per slice region
def dataset_regional_table(
    slices: pd.DataFrame, *, n_resamples: int, seed: int, what: str = "slice table"
) -> pd.DataFrame:
    """Per model and region (apical, mid, basal), the mean per-slice Dice over the structures the
    rows hold and its CI: :func:`dmr.figures.dice.regional_table` with those structures."""
    _one_dataset(slices, what)
    structures = present_structures(slices, what)
    return regional_table(slices, structures, n_resamples=n_resamples, seed=seed, what=what)


def plot_dataset_regions(table: pd.DataFrame, *, title: str, ylabel: str) -> Figure:
    return _plot_points(
        table,
        x="region",
        order=REGION_ORDER,
        xlabel="slice region",
        ylabel=ylabel,
        title=f"{title} ({_n_text(table)} slices per point)",
    )


def write_dataset_regions(
    slice_csvs: Sequence[Path],
    prefix: Path,
    *,
    title: str | None = None,
    n_resamples: int,
    seed: int,
) -> None:
    """Dice per slice region of one dataset from its per-slice metric CSVs (one per model)."""
    what = ", ".join(map(str, slice_csvs))
    slices = read_tables(slice_csvs, "per-slice metric")
    table = dataset_regional_table(slices, n_resamples=n_resamples, seed=seed, what=what)
    structures = present_structures(slices, what)
    title = title or f"{_one_dataset(slices, what)}: Dice per slice region"
    fig = plot_dataset_regions(table, title=title, ylabel=_ylabel(structures, "slice"))
    save_figure(fig, prefix, table)


# --------------------------------------------------------------------------- per group
def dataset_group_table(
    metrics: pd.DataFrame,
    *,
    group_label: str = "group",
    n_resamples: int,
    seed: int,
    what: str = "metric table",
) -> pd.DataFrame:
    """Per model and group, the mean per-volume Dice (mean over the structures the rows hold) and
    its CI; the groups are the values of the ``group`` column, or one ``all cases`` point when
    no row has one. Columns ``dataset, model, label, group, group_label`` + summary + ``unit``."""
    _one_dataset(metrics, what)
    structures = present_structures(metrics, what)
    units = volume_dice(metrics, structures, what)
    groups = units["group"].map(_group_name)
    units["group"] = groups.where(groups != "", NO_GROUP if (groups != "").any() else ALL_CASES)
    table = summarize(
        units, ["dataset", "model", "group"], "dice", n_resamples=n_resamples, seed=seed
    )
    order = sorted(set(table["group"]), key=_group_key)
    table = _sort(table, {"model": ordered_models(table["model"]), "group": order})
    table.insert(2, "label", table["model"].map(model_label))
    table.insert(4, "group_label", group_label)
    table["unit"] = f"volume (case x phase); mean Dice over {', '.join(structures)}"
    return table


def plot_dataset_groups(
    table: pd.DataFrame, *, group_label: str, title: str, ylabel: str
) -> Figure:
    return _plot_points(
        table,
        x="group",
        order=sorted(set(table["group"]), key=_group_key),
        xlabel=group_label,
        ylabel=ylabel,
        title=f"{title} ({_n_text(table)} volumes per point)",
    )


def write_dataset_groups(
    metric_csvs: Sequence[Path],
    prefix: Path,
    *,
    group_label: str = "group",
    title: str | None = None,
    n_resamples: int,
    seed: int,
) -> None:
    """Dice per group (e.g. M&Ms vendor) of one dataset from its per-case metric CSVs."""
    what = ", ".join(map(str, metric_csvs))
    metrics = read_tables(metric_csvs, "metric")
    table = dataset_group_table(
        metrics, group_label=group_label, n_resamples=n_resamples, seed=seed, what=what
    )
    structures = present_structures(metrics, what)
    title = title or f"{_one_dataset(metrics, what)}: Dice per {group_label}"
    fig = plot_dataset_groups(
        table, group_label=group_label, title=title, ylabel=_ylabel(structures, "volume")
    )
    save_figure(fig, prefix, table)
