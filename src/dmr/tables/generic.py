"""Results tables for datasets the paper does not have: one per dataset, per cross-dataset pair
and per leave-one-group-out run (M&Ms: leave-one-vendor-out).

They reuse the builder of Tables II(a), IV and VI (:func:`dmr.tables.comparison.comparison_table`:
Dice, Jaccard, MSD and HD at ED and ES, every base and DMR network, DMR tested against its
baseline with a two-sided Wilcoxon signed-rank test) once per block (a structure, or a held-out
group) and stack the blocks, so a reader meets the paper's own table shape on their data.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dmr.errors import InputError
from dmr.evaluation.stats import CROSS_LEVELS, PAPER_LEVELS
from dmr.labels import STRUCTURE_NAMES
from dmr.tables.cells import Bootstrap
from dmr.tables.common import MISSING
from dmr.tables.comparison import _MARKERS, ComparisonSpec, comparison_table
from dmr.tables.render import Table

#: Structures in the order every table lists them.
_STRUCTURE_ORDER: tuple[str, ...] = ("rv", "myo", "lv")
KINDS: tuple[str, ...] = ("dataset", "cross", "groups")


def _structures(metrics: pd.DataFrame) -> list[str]:
    present = set(metrics["structure"].astype(str))
    return [s for s in _STRUCTURE_ORDER if s in present]


def _spec(name: str, structures: tuple[str, ...], structure: str, levels: tuple, caption: str):
    return ComparisonSpec(
        table=name,
        name=name,
        structures=structures,
        structure=structure,
        levels=levels,
        caption=caption + " " + _MARKERS,
    )


def _stack(blocks: list[tuple[str, str, Table]], column: str, caption: str) -> Table:
    """One table of several blocks: CSV rows gain ``column`` (the block), display rows read
    ``<block>: <metric>``; notes shared by every block are printed once."""
    frames, displays, bolds, cells = [], [], [], []
    for key, label, table in blocks:
        frames.append(table.frame.assign(**{column: key})[[column, *table.frame.columns]])
        display = table.display.copy()
        display.index = [f"{label}: {row}" for row in display.index]
        bold = table.bold.copy()
        bold.index = display.index
        displays.append(display)
        bolds.append(bold)
        cells.append(table.cells)
    display = pd.concat(displays).fillna(MISSING)
    bold = pd.concat(bolds).reindex(columns=display.columns).fillna(False).astype(bool)
    counts: dict[str, int] = {}
    for _, _, table in blocks:
        # Each block keeps its own structure(s); that the others were set aside is no news.
        table.notes = [n for n in table.notes if not n.startswith("Structures not part of")]
        for note in table.notes:
            counts[note] = counts.get(note, 0) + 1
    notes = [note for note, n in counts.items() if n == len(blocks)]
    for _, label, table in blocks:
        notes += [f"{label}: {note}" for note in table.notes if counts[note] < len(blocks)]
    return Table(
        frame=pd.concat(frames, ignore_index=True),
        caption=caption,
        notes=notes,
        display=display,
        bold=bold,
        cells=pd.concat(cells, ignore_index=True),
    )


def results_table(
    metrics: pd.DataFrame,
    name: str,
    kind: str = "dataset",
    bootstrap: Bootstrap | None = None,
    group_label: str = "group",
    fold_metrics: pd.DataFrame | None = None,
) -> Table:
    """The results of one dataset (``kind`` "dataset"), one cross-dataset pair ("cross": the
    paper's stricter levels of Table VI) or one leave-one-group-out run ("groups": a block per
    held-out group, all structures averaged per case as in Table II(a)).

    ``name`` is the table's stem (``results_mnms``); it names the cells' ``table`` column.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if metrics.empty:
        raise InputError(f"{name}: no metric rows")
    bootstrap = bootstrap or Bootstrap()
    dataset = str(metrics["dataset"].iloc[0])
    structures = _structures(metrics)
    if not structures:
        raise InputError(f"{name}: no rows for the structures {list(_STRUCTURE_ORDER)}")
    names = ", ".join(STRUCTURE_NAMES[s] for s in structures)
    if kind == "groups":
        return _groups_table(metrics, name, dataset, structures, bootstrap, group_label)
    levels = CROSS_LEVELS if kind == "cross" else PAPER_LEVELS
    if kind == "cross":
        train, _, test = dataset.partition("_to_")
        what = (
            f"cross-dataset results, trained on {train.upper()} and tested on {test.upper()} "
            "(fold models combined by majority vote)"
        )
    else:
        what = f"results on {dataset.upper()} (out-of-fold predictions)"
    caption = f"{name}: {what}, per structure ({names}), mean over cases."
    blocks = []
    for structure in structures:
        spec = _spec(name, (structure,), structure, levels, caption)
        table = comparison_table(metrics, spec, bootstrap, fold_metrics=fold_metrics)
        blocks.append((structure, STRUCTURE_NAMES[structure], table))
    return _stack(blocks, "structure", blocks[0][2].caption)


def _groups_table(
    metrics: pd.DataFrame,
    name: str,
    dataset: str,
    structures: Sequence[str],
    bootstrap: Bootstrap,
    group_label: str,
) -> Table:
    groups = sorted(g for g in metrics["group"].fillna("").astype(str).unique() if g)
    if not groups:
        raise InputError(f"{name}: the metric rows carry no group to leave out")
    names = ", ".join(STRUCTURE_NAMES[s] for s in structures)
    caption = (
        f"{name}: leave-one-{group_label}-out on {dataset.upper()}: each {group_label}'s cases "
        f"predicted by the networks trained on the other {group_label}s (per case: mean over "
        f"{names}; then mean over cases)."
    )
    blocks = []
    for group in groups:
        rows = metrics[metrics["group"].astype(str) == group]
        spec = _spec(name, tuple(structures), "mean", CROSS_LEVELS, caption)
        table = comparison_table(rows, spec, bootstrap)
        table.cells["dataset"] = f"{dataset}:{group}"
        blocks.append((group, f"{group_label} {group}", table))
    return _stack(blocks, group_label, blocks[0][2].caption)
