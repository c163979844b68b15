"""Tidy metric tables -> the per-point tables the figures plot (mean and bootstrap CI per point).

Intervals are computed here, once, with :func:`dmr.evaluation.stats.bootstrap_ci`
(``scipy.stats.bootstrap``, percentile method, seeded) and written to the figure's CSV; the plotting
functions only draw these columns, so the picture and the CSV never disagree (seaborn is never asked
to resample).

Units (one value per bootstrap sample):

* per volume (Figs. 5-7, Table II's unit): one case x phase; the mean Dice over the structures
  the dataset annotates (ACDC: RV, myocardium, LV; LVSC: myocardium);
* per slice (Fig. 4): one case x phase x slice; the mean over the requested structures of that
  slice's Dice, where a structure absent from both reference and prediction on the slice scores
  1 (``dmr.evaluation.metrics.slice_confusion``) and one present in only one of them scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.evaluation.stats import bootstrap_ci

CONFIDENCE = 0.95
METHOD = "percentile bootstrap of the mean (scipy.stats.bootstrap)"
#: Columns every per-point table ends with, in this order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "confidence",
    "method",
    "n_resamples",
    "seed",
)
VOLUME_KEYS: tuple[str, ...] = ("dataset", "model", "fold", "case", "group", "phase")
SLICE_KEYS: tuple[str, ...] = (*VOLUME_KEYS, "slice", "region")
EMPTY_SLICE_RULE = "a structure absent from reference and prediction on a slice has Dice 1"


def require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """InputError naming ``what`` (a file or table) and the columns it lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {missing}; has {list(table.columns)}")


def _mean_over_structures(
    table: pd.DataFrame, keys: Sequence[str], structures: Sequence[str], what: str
) -> pd.DataFrame:
    require_columns(table, [*keys, "structure", "dice"], what)
    chosen = table[table["structure"].isin(structures)]
    if chosen.empty:
        raise InputError(
            f"{what}: no rows for structure(s) {list(structures)}; "
            f"found {sorted(table['structure'].unique())}"
        )
    if chosen["dice"].isna().any():
        raise InputError(f"{what}: {int(chosen['dice'].isna().sum())} Dice value(s) are NaN")
    grouped = chosen.groupby(list(keys), sort=True, dropna=False)
    counts = grouped["structure"].nunique()
    incomplete = counts[counts != len(set(structures))]
    if not incomplete.empty:
        first = dict(zip(keys, incomplete.index[0], strict=True))
        raise InputError(
            f"{what}: {len(incomplete)} unit(s) lack some of {list(structures)}, e.g. {first}"
        )
    return grouped["dice"].mean().reset_index()


def volume_dice(metrics: pd.DataFrame, structures: Sequence[str], what: str) -> pd.DataFrame:
    """One row per volume (case x phase): ``VOLUME_KEYS`` + ``dice`` = mean over ``structures``."""
    return _mean_over_structures(metrics, VOLUME_KEYS, structures, what)


def slice_dice(slices: pd.DataFrame, structures: Sequence[str], what: str) -> pd.DataFrame:
    """One row per slice (case x phase x slice): ``SLICE_KEYS`` + ``dice`` = mean over
    ``structures`` of the per-slice Dice (see the module docstring for empty slices)."""
    require_columns(slices, [*SLICE_KEYS, "structure", "dice"], what)
    regions = slices.groupby(list(SLICE_KEYS[:-1]), dropna=False)["region"].nunique()
    if (regions > 1).any():
        raise InputError(f"{what}: a slice has different regions for different structures")
    return _mean_over_structures(slices, SLICE_KEYS, structures, what)


def summarize(
    tidy: pd.DataFrame,
    by: Sequence[str],
    value: str,
    *,
    n_resamples: int,
    seed: int,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean and bootstrap CI of ``value`` for every combination of ``by`` (sorted by ``by``).

    Every point is bootstrapped with the same ``seed``, so a point's interval depends only on its
    own values. A point with a single value has a NaN interval (no spread to resample). Raises
    InputError when a point holds NaN values (the caller drops and reports them first).
    """
    require_columns(tidy, [*by, value], "figure table")
    rows = []
    for key, group in tidy.groupby(list(by), sort=True, dropna=False):
        values = group[value].to_numpy(dtype=np.float64)
        point = dict(zip(by, key, strict=True))
        if np.isnan(values).any():
            raise InputError(f"{value} of {point}: {int(np.isnan(values).sum())} NaN value(s)")
        low, high = (
            bootstrap_ci(values, confidence, n_resamples, seed)
            if values.size >= 2
            else (float("nan"), float("nan"))
        )
        rows.append(
            {
                **point,
                "mean": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "n": int(values.size),
                "confidence": confidence,
                "method": METHOD,
                "n_resamples": int(n_resamples),
                "seed": int(seed),
            }
        )
    return pd.DataFrame(rows, columns=[*by, *SUMMARY_COLUMNS])
