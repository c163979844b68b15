"""Does a DMR-vs-baseline difference replicate in every training?

A Wilcoxon test over the test cases compares two particular trainings; it cannot see how much
another training (a seed, float32 against bf16) would move the result, and in the miniature such
changes turned significant cells around (docs/miniature.md). Each fold's network is an
independent training, so a table records, per DMR cell, in how many of them the difference is
found again when each is tested alone: in-domain on its own test cases, across datasets (where
the fold networks vote) each network on every case. The claims of ``paper_vs_reproduced`` count
a significant cell only when every fold network agrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dmr.evaluation.stats import wilcoxon_signed_rank


def fold_case_means(
    metrics: pd.DataFrame,
    fold_metrics: pd.DataFrame | None,
    structures: Sequence[str],
    columns: Sequence[str],
) -> pd.DataFrame | None:
    """Per (arch, variant, phase, fold, case) means of ``columns`` over ``structures``, from the
    networks each tested alone: the in-domain folds (each case by its own fold's network) or,
    for an ensemble's metrics, ``fold_metrics`` (every fold network on every case). None when
    there is no fold to tell apart (an ensemble without its members' metrics)."""
    source = fold_metrics if fold_metrics is not None else metrics
    if "fold" not in source.columns:
        return None
    source = source[source["structure"].isin(list(structures))]
    source = source[pd.to_numeric(source["fold"], errors="coerce") >= 0]
    if source.empty:
        return None
    return (
        source.groupby(["arch", "variant", "phase", "fold", "case"], sort=False)[list(columns)]
        .mean()
        .reset_index()
    )


def replication(
    fold_cases: pd.DataFrame | None,
    model: tuple[str, str],
    base: tuple[str, str],
    phase: str,
    column: str,
    higher_is_better: bool,
    dmr_better: bool | None,
    level: float,
) -> str:
    """``j/K``: in j of the K fold networks, tested alone (two-sided Wilcoxon signed-rank test of
    their cases, paired with the baseline's), ``model`` differs from ``base`` at ``level`` in
    the pooled direction ``dmr_better`` (None when the pooled means are equal: nothing to
    replicate, j = 0). "" without per-fold data."""
    if fold_cases is None:
        return ""
    folds = sorted(fold_cases["fold"].unique())
    agreeing = 0
    for fold in folds:
        rows = fold_cases[(fold_cases["fold"] == fold) & (fold_cases["phase"] == phase)]

        def values(arch_variant: tuple[str, str], rows: pd.DataFrame = rows) -> pd.Series:
            arch, variant = arch_variant
            own = rows[(rows["arch"] == arch) & (rows["variant"] == variant)]
            return own.set_index("case")[column]

        paired = pd.concat({"base": values(base), "dmr": values(model)}, axis=1, join="inner")
        if paired.empty or dmr_better is None:
            continue
        difference = float((paired["dmr"] - paired["base"]).mean())
        if difference == 0:
            continue
        better = difference > 0 if higher_is_better else difference < 0
        p_value = wilcoxon_signed_rank(paired["dmr"], paired["base"]).p_value
        if better == dmr_better and p_value < level:
            agreeing += 1
    return f"{agreeing}/{len(folds)}"
