"""Fig. S4: learning curves across folds — Dice loss, distance-map MAD, learned task weights and
each learned sigma over its task's training loss.

Per dataset, model and epoch, the mean over folds and its 95 % bootstrap CI (folds are the unit,
so n is the number of folds that reached that epoch). An interval from fewer than
:data:`MIN_FOLDS_FOR_INTERVAL` folds says little, so there the figure draws each fold's own curve
(thin, in the model's colour) instead of a band; the table keeps every fold's value (``fold<k>``
columns) so the CSV holds what is drawn. Every model keeps one colour and line style
(:func:`dmr.figures.style.line_style`): the main model is solid and on top, ablation variants
dashed with markers, so no curve hides another. Base models have no MAD and no weights
(their ``*_mad`` columns are NaN by contract), so they appear in the Dice-loss panels only;
fixed-weighting variants keep weight 1 and are drawn as such. Row (d), sigma / L, is drawn for
learned weightings only: Eq. 7 is minimal at sigma = L, so a ratio near 1 (the shaded band is
[0.8, 1.25]) says the task weights are in the regime the paper's networks train in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dmr.errors import InputError
from dmr.figures.io import save_figure
from dmr.figures.style import (
    figure_style,
    line_style,
    model_colour,
    model_label,
    ordered_models,
    split_model,
)
from dmr.figures.summaries import require_columns, summarize
from dmr.train.history import EQUILIBRIUM_BAND, history_identity, read_history

#: history.csv column -> (panel row, column title, y label) of Fig. S4.
QUANTITIES: dict[str, tuple[str, str, str]] = {
    "train_dice_loss": ("dice", "training", "Dice loss"),
    "val_dice_loss": ("dice", "validation", "Dice loss"),
    "train_mad": ("mad", "training", "MAD of distance maps (pixels)"),
    "val_mad": ("mad", "validation", "MAD of distance maps (pixels)"),
    "weight_ce": ("weight", "cross-entropy weight", "task weight 1/sigma (log)"),
    "weight_mad": ("weight", "MAD weight", "task weight 1/sigma (log)"),
    "sigma_ce_ratio": ("ratio", "cross-entropy sigma / L", "sigma / training loss (log)"),
    "sigma_mad_ratio": ("ratio", "MAD sigma / L", "sigma / training loss (log)"),
}
#: Quantities a base (cross-entropy only) model does not have.
DMR_ONLY: tuple[str, ...] = ("train_mad", "val_mad", "weight_ce", "weight_mad")
#: Quantities only learned weightings have (NaN for base and fixed-weight models: dropped).
LEARNED_ONLY: tuple[str, ...] = ("sigma_ce_ratio", "sigma_mad_ratio")
ROWS: tuple[str, ...] = ("dice", "mad", "weight", "ratio")
#: Fewest folds whose bootstrap interval is drawn; below it each fold's curve is drawn instead.
MIN_FOLDS_FOR_INTERVAL = 3
_KEYS = ["dataset", "model", "quantity", "epoch"]


def read_histories(paths: Sequence[Path]) -> pd.DataFrame:
    """Tidy ``dataset, model, fold, epoch, quantity, value`` of every history the paths name."""
    if not paths:
        raise InputError("Fig. S4 needs at least one history.csv")
    frames = []
    for path in map(Path, paths):
        dataset, model, fold = history_identity(path)
        history = read_history(path)
        required = [q for q in QUANTITIES if q not in LEARNED_ONLY]
        require_columns(history, ["epoch", *required], str(path))
        wanted = [q for q in required if split_model(model)[1] != "base" or q not in DMR_ONLY]
        # Histories written before the sigma / L columns existed simply lack row (d).
        wanted += [q for q in LEARNED_ONLY if q in history.columns]
        long = history.melt(id_vars="epoch", value_vars=wanted, var_name="quantity")
        long = long[~(long["quantity"].isin(LEARNED_ONLY) & long["value"].isna())]
        missing = long[long["value"].isna()]
        if not missing.empty:
            raise InputError(
                f"{path}: {len(missing)} NaN value(s), e.g. {missing.iloc[0]['quantity']} "
                f"at epoch {missing.iloc[0]['epoch']}"
            )
        frames.append(long.assign(dataset=dataset, model=model, fold=fold))
    tidy = pd.concat(frames, ignore_index=True)
    duplicated = tidy.duplicated(["dataset", "model", "fold", "epoch", "quantity"])
    if duplicated.any():
        row = tidy[duplicated].iloc[0]
        raise InputError(f"two histories for {row['dataset']} {row['model']} fold {row['fold']}")
    return tidy[["dataset", "model", "fold", "epoch", "quantity", "value"]]


def curve_table(tidy: pd.DataFrame, *, n_resamples: int, seed: int) -> pd.DataFrame:
    """Fig. S4 points: mean over folds and CI per dataset, model, quantity and epoch, and each
    fold's own value (column ``fold<k>``, NaN where fold k did not reach the epoch)."""
    table = summarize(tidy, _KEYS, "value", n_resamples=n_resamples, seed=seed)
    table.insert(2, "label", table["model"].map(model_label))
    table["unit"] = "fold (mean over the folds that reached the epoch)"
    folds = tidy.pivot_table(index=_KEYS, columns="fold", values="value", aggfunc="first")
    folds.columns = [f"fold{int(k)}" for k in folds.columns]
    return table.merge(folds.reset_index(), on=_KEYS, how="left", validate="one_to_one")


def fold_columns(table: pd.DataFrame) -> list[str]:
    """The ``fold<k>`` columns of a curve table, in fold order."""
    columns = [c for c in table.columns if c.startswith("fold") and c[4:].isdigit()]
    return sorted(columns, key=lambda c: int(c[4:]))


def _title(table: pd.DataFrame) -> str:
    """What the lines and the shading are, for the folds this run has."""
    n_min, n_max = int(table["n"].min()), int(table["n"].max())
    folds = f"{n_min}" if n_min == n_max else f"{n_min}-{n_max}"
    few = f"fewer than {MIN_FOLDS_FOR_INTERVAL} folds"
    if n_min >= MIN_FOLDS_FOR_INTERVAL:
        return f"Learning curves: mean over folds (n = {folds}) and 95 % bootstrap CI"
    if n_max < MIN_FOLDS_FOR_INTERVAL:
        return (
            f"Learning curves: mean over folds (n = {folds}); thin lines: each fold "
            f"(no interval from {few})"
        )
    return (
        f"Learning curves: mean over folds (n = {folds}); band: 95 % bootstrap CI, or thin "
        f"lines: each fold where {few} reached the epoch"
    )


def plot_curves(table: pd.DataFrame, dataset_labels: Mapping[str, str] | None = None) -> Figure:
    """Fig. S4: rows (a) Dice loss, (b) MAD, (c) task weights, (d) sigma / L; columns dataset x
    split/task. Lines are fold means; bands the 95 % bootstrap CI from at least
    :data:`MIN_FOLDS_FOR_INTERVAL` folds, else thin lines for each fold."""
    datasets = list(dict.fromkeys(sorted(table["dataset"])))
    models = ordered_models(table["model"])
    columns = [(d, c) for d in datasets for c in (0, 1)]
    rows = [r for r in ROWS if r in {QUANTITIES[q][0] for q in table["quantity"]}]
    with figure_style():
        fig, axes = plt.subplots(
            len(rows),
            len(columns),
            figsize=(2.5 * len(columns), 2.1 * len(rows) + 0.9),
            squeeze=False,
            sharex=True,
        )
        for r, row in enumerate(rows):
            quantities = [q for q, spec in QUANTITIES.items() if spec[0] == row]
            for c, (dataset, k) in enumerate(columns):
                ax = axes[r, c]
                quantity = quantities[k]
                _draw_curves(ax, table, dataset, quantity, models)
                _, column_title, ylabel = QUANTITIES[quantity]
                name = (dataset_labels or {}).get(dataset, dataset.upper())
                ax.set_title(f"({'abcd'[r]}) {name}: {column_title}", fontsize=8)
                if c == 0 or k == 0:
                    ax.set_ylabel(ylabel)
                if row == "ratio":
                    ax.axhspan(*EQUILIBRIUM_BAND, color="0.85", zorder=0, linewidth=0)
                    ax.axhline(1.0, color="0.5", linewidth=0.6, zorder=0)
                if row in ("weight", "ratio"):
                    _log_axis(ax)
                ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
                if r == len(rows) - 1:
                    ax.set_xlabel("epoch")
        handles, labels = _legend(table, models)
        fig.legend(handles, labels, loc="lower center", ncol=min(len(handles), 4), frameon=False)
        fig.suptitle(_title(table), fontsize=9)
        legend_rows = -(-len(handles) // 4)
        fig.tight_layout(rect=(0, 0.03 + 0.025 * legend_rows, 1, 0.97))
    return fig


def _legend(table: pd.DataFrame, models: Sequence[str]) -> tuple[list, list[str]]:
    """One entry per model (its colour and line style), then what the band or thin lines are."""
    handles: list = []
    for model in models:
        style = line_style(model)
        handles.append(Line2D([], [], color=model_colour(model), **style))
    labels = [model_label(m) for m in models]
    if (table["n"] >= MIN_FOLDS_FOR_INTERVAL).any():
        handles.append(Patch(color="0.6", alpha=0.35, linewidth=0))
        labels.append(f"95 % bootstrap CI ({MIN_FOLDS_FOR_INTERVAL}+ folds)")
    if (table["n"] < MIN_FOLDS_FOR_INTERVAL).any():
        handles.append(Line2D([], [], color="0.4", linewidth=0.6, alpha=0.7))
        labels.append(f"one fold (thin; < {MIN_FOLDS_FOR_INTERVAL} folds, no interval)")
    return handles, labels


def _log_axis(ax: plt.Axes) -> None:
    """Log y axis labelled in plain numbers. Over more than a decade only the 1-2-5 ticks carry
    labels: labelling every minor tick (0.06, 0.07, 0.08, ...) overprinted them."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    wide = high / low > 10
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(
        ticker.FuncFormatter(lambda v, _: f"{v:g}" if not wide or f"{v:.0e}"[0] in "25" else "")
    )


def _draw_curves(
    ax: plt.Axes, table: pd.DataFrame, dataset: str, quantity: str, models: Sequence[str]
) -> None:
    """Each model's mean curve in its colour and line style; its 95 % CI band where at least
    :data:`MIN_FOLDS_FOR_INTERVAL` folds reached the epoch, else each fold's own thin curve."""
    fold_names = fold_columns(table)
    for index, model in enumerate(models):
        rows = table[
            (table["dataset"] == dataset)
            & (table["model"] == model)
            & (table["quantity"] == quantity)
        ].sort_values("epoch")
        if rows.empty:
            continue
        colour, style = model_colour(model), line_style(model)
        if style.get("marker"):
            step = max(1, len(rows) // 8)  # markers on a few epochs, staggered between models
            style = {**style, "markevery": (index % step, step)}
        ax.plot(rows["epoch"], rows["mean"], color=colour, **style)
        enough = (rows["n"] >= MIN_FOLDS_FOR_INTERVAL).to_numpy()
        if enough.any():
            ax.fill_between(
                rows["epoch"],
                rows["ci_low"],
                rows["ci_high"],
                where=enough,
                color=colour,
                alpha=0.2,
                linewidth=0,
                zorder=style["zorder"] - 2,
            )
        if not enough.all():
            for fold in fold_names:
                values = rows[fold].where(~enough)
                if values.notna().any():
                    ax.plot(
                        rows["epoch"],
                        values,
                        color=colour,
                        linestyle=style["linestyle"],
                        linewidth=0.6,
                        alpha=0.7,
                        zorder=style["zorder"] - 1,
                        gid=f"fold-line {model} {fold}",
                    )
    ax.grid(linewidth=0.4, alpha=0.6)


def write_curves(
    histories: Sequence[Path],
    prefix: Path,
    *,
    n_resamples: int,
    seed: int,
    dataset_labels: Mapping[str, str] | None = None,
) -> None:
    """Fig. S4 from every ``history.csv`` (every model, fold and dataset)."""
    table = curve_table(read_histories(histories), n_resamples=n_resamples, seed=seed)
    save_figure(plot_curves(table, dataset_labels), prefix, table)
