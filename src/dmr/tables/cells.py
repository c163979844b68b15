"""The long "cells" frame: one row per reproduced number of a paper table, with its uncertainty.

Each builder returns, beside the typeset table, a row per printed number: ``value`` in the
printed unit (percent for ``*_pct``), a 95 % percentile bootstrap interval over the values it
summarises (cases, or slices for Table V), ``n``, and for DMR cells the p-value and marker. The
published-vs-reproduced comparison joins these rows on ``table, dataset, quantity, phase,
structure, region, method`` with the paper's published values (same vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmr.evaluation.stats import (
    bootstrap_ci,
    bootstrap_statistic_ci,
    loa_half_width,
    mean_difference,
    pearson_r,
)
from dmr.published.cells import CELLS_COLUMNS

#: Columns of ``results/stats/<table>.csv`` (``note`` says why an interval is missing;
#: ``replicated``, on a DMR cell tested against its baseline, ``j/K``: in j of the K fold
#: networks, each tested alone, DMR differs from its baseline in the pooled direction at the
#: table's weaker level; "" where there is no such test).
CELL_COLUMNS: tuple[str, ...] = (*CELLS_COLUMNS, "note", "replicated")

NAN = float("nan")


def empty_cells() -> pd.DataFrame:
    """A cells frame without rows (a table that reproduces no number, e.g. only published)."""
    return cells_frame([])


def cells_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """Rows from :func:`cell` as a frame in :data:`CELL_COLUMNS` order (``n`` as an integer)."""
    frame = pd.DataFrame(list(rows), columns=list(CELL_COLUMNS))
    frame["replicated"] = frame["replicated"].fillna("").astype(str)
    frame["n"] = frame["n"].astype("Int64")
    for column in ("value", "ci_low", "ci_high", "p_value"):
        frame[column] = frame[column].astype(float)
    return frame


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval; NaN bounds come with a ``note`` saying why."""

    low: float = NAN
    high: float = NAN
    note: str = ""


#: (statistic along axis -1, its name) for the paired statistics of the agreement cells.
PAIRED_STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "r": pearson_r,
    "bias": mean_difference,
    "loa": loa_half_width,
}


@dataclass(frozen=True)
class Bootstrap:
    """Settings of every interval of a table: resamples, seed (same seed, same CI), level."""

    n_resamples: int = 9999
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.n_resamples < 1:
            raise ValueError(f"n_resamples must be positive; got {self.n_resamples}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative; got {self.seed}")

    def mean(self, values: Sequence[float]) -> Interval:
        """Interval of the mean of the finite ``values`` (the caller reports dropped NaNs)."""
        data = _finite(values)
        undefined = _undefined(data.size, np.ptp(data) == 0 if data.size else True)
        if undefined:
            return Interval(note=undefined)
        low, high = bootstrap_ci(data, self.confidence, self.n_resamples, self.seed)
        return _checked(low, high)

    def statistic(self, values: Sequence[float], statistic: Callable[..., np.ndarray]) -> Interval:
        """Interval of a one-sample statistic vectorised along ``axis`` (e.g. the SD)."""
        data = _finite(values)
        undefined = _undefined(data.size, np.ptp(data) == 0 if data.size else True)
        if undefined:
            return Interval(note=undefined)
        low, high = bootstrap_statistic_ci(
            (data,), statistic, False, self.confidence, self.n_resamples, self.seed
        )
        return _checked(low, high)

    def paired(
        self, reference: Sequence[float], prediction: Sequence[float], kind: str
    ) -> Interval:
        """Paired-bootstrap interval of ``r``, ``bias`` or ``loa`` (pairs with a NaN dropped)."""
        ref = np.asarray(reference, dtype=np.float64).reshape(-1)
        pred = np.asarray(prediction, dtype=np.float64).reshape(-1)
        keep = np.isfinite(ref) & np.isfinite(pred)
        ref, pred = ref[keep], pred[keep]
        constant = ref.size == 0 or (np.ptp(ref) == 0 and np.ptp(pred) == 0)
        undefined = _undefined(ref.size, constant)
        if undefined:
            return Interval(note=undefined)
        low, high = bootstrap_statistic_ci(
            (ref, pred), PAIRED_STATISTICS[kind], True, self.confidence, self.n_resamples, self.seed
        )
        return _checked(low, high)


def _finite(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    return data[np.isfinite(data)]


def _undefined(n: int, constant: bool) -> str:
    if n < 2:
        return f"CI undefined: n = {n} < 2"
    if constant:
        return "CI undefined: all values equal"
    return ""


def _checked(low: float, high: float) -> Interval:
    """NaN bounds (some resample leaves the statistic undefined) or a zero-width interval."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return Interval(note="CI undefined: the statistic is undefined on some resamples")
    if low == high:
        return Interval(note="CI undefined: every resample gives the same value")
    return Interval(low, high)


def cell(
    table: str,
    dataset: str,
    quantity: str,
    method: str,
    value: float,
    interval: Interval,
    n: int | None,
    *,
    phase: str = "",
    structure: str = "",
    region: str = "",
    p_value: float = NAN,
    marker: str = "",
    note: str = "",
    replicated: str = "",
) -> dict[str, object]:
    """One row of the cells frame; ``note`` is joined with the interval's note."""
    notes = "; ".join(text for text in (note, interval.note) if text)
    return {
        "table": table,
        "dataset": dataset,
        "quantity": quantity,
        "phase": phase,
        "structure": structure,
        "region": region,
        "method": method,
        "value": value,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "n": n,
        "p_value": p_value,
        "marker": marker,
        "note": notes,
        "replicated": replicated,
    }


def _sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x.std(axis=axis, ddof=1)


def mean_sd_cells(
    values: pd.Series,
    table: str,
    name: str,
    dataset: str,
    method: str,
    bootstrap: Bootstrap,
    structure: str = "",
    region: str = "",
) -> tuple[float, float, int, list[dict[str, object]]]:
    """Mean and SD (ddof 1) of the defined values, n, and their two cells ``<name>_mean`` and
    ``<name>_sd`` with bootstrap intervals (the paper's "mean (SD)" and "mean ± SD")."""
    data = values.dropna().to_numpy(float)
    mean = float(data.mean()) if data.size else float("nan")
    sd = float(data.std(ddof=1)) if data.size >= 2 else float("nan")
    cells = [
        cell(
            table,
            dataset,
            f"{name}_{stat}",
            method,
            value,
            interval,
            int(data.size),
            structure=structure,
            region=region,
        )
        for stat, value, interval in (
            ("mean", mean, bootstrap.mean(data)),
            ("sd", sd, bootstrap.statistic(data, _sd)),
        )
    ]
    return mean, sd, int(data.size), cells
