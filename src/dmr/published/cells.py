"""The reproduced "cells" tables (``results/stats/<table>.csv``): read, checked, seeds combined.

Every table builder writes one row per published number it reproduces, keyed like the paper's
numbers (:data:`dmr.published.vocabulary.KEY`). This module reads them back for the comparison,
refusing a file that breaks the contract (naming it), and folds several seeds of one key into one
row whose marker and replication are the weakest any seed reached.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.published.vocabulary import KEY, MARKERS

log = logging.getLogger(__name__)

#: Columns every cells file must have (the contract of ``results/stats/<table>.csv``; the table
#: builders write these and two optional ones, :data:`dmr.tables.cells.CELL_COLUMNS`).
CELLS_COLUMNS: tuple[str, ...] = (
    *KEY,
    "value",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "marker",
)
_NUMERIC = ("value", "ci_low", "ci_high", "n", "p_value")


def _checked_cells(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    """The contract's columns present, keys as text ("" not NaN), numbers as floats."""
    missing = [c for c in CELLS_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: cells table lacks column(s) {missing}")
    frame = frame.copy()
    if "replicated" not in frame.columns:  # cells written before replication was recorded
        frame["replicated"] = ""
    for name in (*KEY, "marker", "replicated"):
        frame[name] = frame[name].fillna("").astype(str)
    for name in _NUMERIC:
        converted = pd.to_numeric(frame[name], errors="coerce")
        bad = converted.isna() & frame[name].notna() & (frame[name].astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: row {row + 2}: {name} {frame[name].iloc[row]!r} not a number"
            )
        frame[name] = converted.astype(float)
    bad_marker = ~frame["marker"].isin(MARKERS)
    if bad_marker.any():
        row = int(np.flatnonzero(bad_marker.to_numpy())[0])
        raise InputError(f"{source}: row {row + 2}: marker {frame['marker'].iloc[row]!r}")
    frame["source"] = str(source)
    return frame


def read_cells(paths: Iterable[str | os.PathLike[str]]) -> tuple[pd.DataFrame, list[Path]]:
    """Concatenate the cells files that exist; return them and the paths that do not.

    A missing file is a table the config did not produce (its numbers become ``not run``); a file
    that exists but lacks a contract column, or holds a non-number or an unknown marker, is an
    :class:`~dmr.errors.InputError` naming it.
    """
    frames, missing = [], []
    for path in map(Path, paths):
        if not path.is_file():
            log.warning("cells file %s not found: its numbers count as not run", path)
            missing.append(path)
            continue
        try:
            raw = pd.read_csv(path, dtype={name: str for name in (*KEY, "marker", "replicated")})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable cells CSV ({exc})") from exc
        frames.append(_checked_cells(raw, path))
    if not frames:
        empty = pd.DataFrame(
            {name: pd.Series(dtype=str) for name in (*KEY, "marker", "replicated", "source")}
        )
        for name in _NUMERIC:
            empty[name] = pd.Series(dtype=float)
        return empty, missing
    return pd.concat(frames, ignore_index=True), missing


def _weakest_marker(markers: Sequence[str]) -> str:
    """The marker every seed reached (``*`` if one seed has ``*`` and another ``**``)."""
    return min(markers, key=MARKERS.index)


def replicated_fraction(text: str) -> float:
    """``j/K`` of a cell's ``replicated`` column as j / K; NaN when empty or malformed."""
    agreeing, _, total = str(text).partition("/")
    if not (agreeing.isdigit() and total.isdigit()) or int(total) == 0:
        return math.nan
    return int(agreeing) / int(total)


def _weakest_replication(values: Sequence[str]) -> str:
    """The least replicated of several seeds' ``j/K`` ("" when a seed has none)."""
    fractions = [replicated_fraction(v) for v in values]
    if any(math.isnan(f) for f in fractions):
        return ""
    return values[int(np.argmin(fractions))]


def combine_seeds(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per key; several rows of one key must be several seeds (a ``seed`` column)."""
    cells = cells.assign(n_seeds=1)
    duplicated = cells.duplicated(list(KEY), keep=False)
    if not duplicated.any():
        return cells
    dups = cells.loc[duplicated]
    if "seed" not in cells.columns or dups.duplicated([*KEY, "seed"]).any():
        first = dups.iloc[0]
        same_key = (dups[list(KEY)] == first[list(KEY)]).all(axis=1)
        files = sorted(set(dups.loc[same_key, "source"])) if "source" in dups else ["cells"]
        raise InputError(
            f"{', '.join(files)}: several cells share the key "
            + ", ".join(f"{k}={first[k]!r}" for k in KEY)
            + " (and no distinct `seed` tells them apart)"
        )
    rows = []
    for _, group in dups.groupby(list(KEY), sort=False):
        values = group["value"].to_numpy()
        bounds = np.concatenate(
            [values, group["ci_low"].dropna().to_numpy(), group["ci_high"].dropna().to_numpy()]
        )
        row = group.iloc[0].copy()
        row["value"] = float(np.mean(values))
        row["ci_low"], row["ci_high"] = float(np.min(bounds)), float(np.max(bounds))
        row["marker"] = _weakest_marker(list(group["marker"]))
        row["replicated"] = _weakest_replication(list(group["replicated"]))
        row["n_seeds"] = len(group)
        rows.append(row)
    return pd.concat([cells.loc[~duplicated], pd.DataFrame(rows)], ignore_index=True)
