"""Means with their confidence intervals as dodged points with error bars (Figs. 4-7).

Only draws the ``mean``, ``ci_low`` and ``ci_high`` columns of a table built by
:mod:`dmr.figures.summaries`; nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


def point_ci_axes(
    ax: plt.Axes,
    table: pd.DataFrame,
    *,
    x: str,
    x_order: Sequence,
    x_labels: Sequence[str],
    hue: str,
    hue_order: Sequence,
    colours: Sequence,
) -> None:
    """Means as points with their ``ci_low``..``ci_high`` bars, one column of points per ``x``
    level, dodged by ``hue``; a point whose interval is NaN (n = 1) is drawn without a bar."""
    width = 0.8
    step = width / max(len(hue_order), 1)
    for h, (level, colour) in enumerate(zip(hue_order, colours, strict=True)):
        rows = table[table[hue] == level].set_index(x).reindex(list(x_order))
        positions = np.arange(len(x_order)) - width / 2 + step * (h + 0.5)
        mean = rows["mean"].to_numpy(dtype=float)
        err = np.vstack(
            [
                mean - rows["ci_low"].to_numpy(dtype=float),
                rows["ci_high"].to_numpy(dtype=float) - mean,
            ]
        )
        ax.errorbar(
            positions,
            mean,
            yerr=np.nan_to_num(err, nan=0.0),
            fmt="o",
            color=colour,
            markersize=4,
            capsize=2.5,
            elinewidth=1.0,
            linestyle="none",
        )
    ax.set_xticks(np.arange(len(x_order)), list(x_labels))
    ax.set_xlim(-0.5, len(x_order) - 0.5)
    ax.grid(axis="y", linewidth=0.4, alpha=0.6)


def point_legend(
    fig: Figure,
    labels: Sequence[str],
    colours: Sequence,
    title: str | None,
    ncol: int | None = None,
) -> None:
    """One marker per label under the axes (``ncol`` columns; default up to six in a row)."""
    handles = [Line2D([], [], marker="o", linestyle="none", color=c, markersize=4) for c in colours]
    fig.legend(
        handles,
        list(labels),
        title=title,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.045),
        ncol=ncol or min(len(labels), 6),
        frameon=False,
    )
