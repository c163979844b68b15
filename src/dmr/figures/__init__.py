"""The paper's figures (PNG + PDF, and the CSV each data figure plots) and the dataset overview.

One module per family: :mod:`~dmr.figures.overview` (phantom/data overview),
:mod:`~dmr.figures.dice` (Figs. 4-7), :mod:`~dmr.figures.cases` (Figs. 1, S1),
:mod:`~dmr.figures.network` (Figs. S2, S3), :mod:`~dmr.figures.weights` (Fig. S5),
:mod:`~dmr.figures.training` (Fig. S4) and :mod:`~dmr.figures.datasets` (Figs. 4 and 5 for a
dataset the paper does not have: Dice per slice region and per group, e.g. M&Ms vendor).
:mod:`~dmr.figures.style` holds the one look, :mod:`~dmr.figures.summaries` the bootstrap
tables, :mod:`~dmr.figures.io` the writers, :mod:`~dmr.figures.points` and
:mod:`~dmr.figures.panels` the shared drawing. The family modules (torch, SimpleITK,
scikit-image) are imported only by the commands that need them.
"""

from __future__ import annotations

from dmr.figures.overview import DPI, LVSC_CASES_SHOWN, PANEL_INCHES, plot_dataset_overview

__all__ = ["DPI", "LVSC_CASES_SHOWN", "PANEL_INCHES", "plot_dataset_overview"]
