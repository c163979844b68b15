"""Read the paper's published numbers (``paper.yaml``) into one long, checked table.

The data file mirrors the printed tables row by row so that it can be proof-read against the
paper; :func:`load_published` flattens it into one row per printed number, keyed like the
reproduced cells tables, and refuses a file that is malformed rather than guessing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dmr.errors import InputError
from dmr.published.vocabulary import (
    DATASETS,
    KEY,
    MARKERS,
    PHASES,
    PUBLISHED_METHODS,
    QUANTITIES,
    REGIONS,
    STRUCTURES,
    TABLES,
    is_our_model,
)

#: Columns of :func:`load_published`'s frame.
COLUMNS: tuple[str, ...] = (*KEY, "value", "printed", "marker", "note")

_NUMBER = r"-?\d+(?:\.\d+)?"
#: One printed cell: a number, its marker, and optionally a second number in brackets or after ±.
_CELL = re.compile(
    rf"(?P<number>{_NUMBER})(?P<marker>\*+)?"
    rf"(?:\s*\((?P<bracketed>{_NUMBER})\)|\s*±\s*(?P<plus_minus>{_NUMBER}))?"
    r"(?=\s|$)"
)
_FIELDS = ("dataset", "quantity", "phase", "structure", "region", "method", "bracket")
_LEVEL_KEYS = {
    "fields": {*_FIELDS, "note", "bracket_optional"},
    "column": {*_FIELDS, "note", "bracket_optional"},
    "row": {*_FIELDS, "note", "bracket_optional", "kind", "label", "cells"},
}
_ALLOWED = {
    "dataset": DATASETS,
    "phase": PHASES,
    "structure": STRUCTURES,
    "region": REGIONS,
}


def published_path() -> Path:
    """The data file shipped in the package (``dmr/published/paper.yaml``)."""
    return Path(str(resources.files("dmr.published").joinpath("paper.yaml")))


def _cells(text: str, where: str) -> Iterator[tuple[str, str, str | None]]:
    """(number, marker, second number or None) for each printed cell of a row."""
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return
        match = _CELL.match(text, pos)
        if match is None:
            raise ValueError(f"{where}: cannot read a number at {text[pos : pos + 20]!r}")
        yield (
            match["number"],
            match["marker"] or "",
            match["bracketed"] or match["plus_minus"],
        )
        pos = match.end()


def _merge(levels: Mapping[str, Mapping[str, Any]], kind: str | None, where: str) -> dict:
    """One cell's fields from the table, column and row levels; a field set twice is an error."""
    merged: dict[str, Any] = {}
    notes: list[str] = []
    for level, fields in levels.items():
        for name, value in fields.items():
            if name in ("note", "label", "cells", "kind"):
                if name == "note" and value:
                    notes.append(str(value).strip())
                continue
            if name in merged:
                raise ValueError(f"{where}: {name!r} is set both by an outer level and the {level}")
            merged[name] = value
    for name in ("quantity", "bracket"):
        if isinstance(merged.get(name), str) and "{kind}" in merged[name]:
            if kind is None:
                raise ValueError(f"{where}: {name} {merged[name]!r} needs the row's `kind`")
            merged[name] = merged[name].replace("{kind}", str(kind))
    merged["note"] = "; ".join(notes)
    return merged


def _check_keys(mapping: Any, level: str, where: str) -> Mapping[str, Any]:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - _LEVEL_KEYS[level])
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}")
    return mapping


def _records(table: str, spec: Any) -> Iterator[dict[str, Any]]:
    """Every printed number of one table as a flat record."""
    where = f"table {table}"
    if not isinstance(spec, Mapping) or set(spec) - {"fields", "columns", "rows"}:
        raise ValueError(f"{where}: expected a mapping with `fields`, `columns` and `rows`")
    fields = _check_keys(spec.get("fields") or {}, "fields", f"{where} fields")
    columns = spec.get("columns")
    rows = spec.get("rows")
    if not isinstance(columns, list) or not columns or not isinstance(rows, list) or not rows:
        raise ValueError(f"{where}: `columns` and `rows` must be non-empty lists")
    for r, row in enumerate(rows):
        row_where = f"{where}, row {r + 1}"
        row = _check_keys(row, "row", row_where)
        row_where = f"{where}, row {r + 1} ({row.get('label', '')!r})"
        cells = list(_cells(str(row.get("cells", "")), row_where))
        if len(cells) != len(columns):
            raise ValueError(
                f"{row_where}: {len(cells)} cells printed, the table has {len(columns)} columns"
            )
        for c, (column, (number, marker, second)) in enumerate(zip(columns, cells, strict=True)):
            cell_where = f"{row_where}, cell {c + 1} ({number!r})"
            column = _check_keys(column or {}, "column", cell_where)
            merged = _merge(
                {"table fields": fields, "column": column, "row": row}, row.get("kind"), cell_where
            )
            bracket = merged.pop("bracket", None)
            optional = bool(merged.pop("bracket_optional", False))
            base = {"table": table, **{name: merged.get(name) or "" for name in KEY[1:]}}
            base["note"] = merged["note"]
            yield {**base, "printed": number, "marker": marker, "where": cell_where}
            if second is not None:
                if not bracket:
                    raise ValueError(f"{cell_where}: a bracketed number but no `bracket` quantity")
                yield {
                    **base,
                    "quantity": bracket,
                    "printed": second,
                    "marker": "",
                    "where": cell_where,
                }
            elif bracket and not optional:
                raise ValueError(f"{cell_where}: the {bracket!r} number in brackets is missing")


def _validate(frame: pd.DataFrame) -> None:
    """Vocabulary, markers and unique keys; raises ValueError naming the first bad cell."""
    for record in frame.itertuples(index=False):
        where = record.where
        for name, allowed in _ALLOWED.items():
            if getattr(record, name) not in allowed:
                raise ValueError(f"{where}: {name} {getattr(record, name)!r} not one of {allowed}")
        if record.quantity not in QUANTITIES[record.table]:
            raise ValueError(
                f"{where}: quantity {record.quantity!r} is not one of Table {record.table}'s "
                f"{QUANTITIES[record.table]}"
            )
        if not (is_our_model(record.method) or record.method in PUBLISHED_METHODS):
            raise ValueError(
                f"{where}: method {record.method!r} is neither a model name (unet-dmr) nor one "
                f"of {PUBLISHED_METHODS}"
            )
        if record.marker not in MARKERS:
            raise ValueError(f"{where}: marker {record.marker!r} not one of {MARKERS}")
    duplicated = frame.duplicated(list(KEY), keep=False)
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise ValueError(
            f"{first['where']}: {int(duplicated.sum())} numbers share a key, e.g. "
            + ", ".join(f"{k}={first[k]!r}" for k in KEY)
        )


def load_published(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The paper's published numbers: one row per printed number, columns :data:`COLUMNS`.

    ``value`` is the float of ``printed`` (the exact text, e.g. ``"91.7"``), ``marker`` the
    significance marker printed with it. ``path`` defaults to the file shipped in the package.
    Raises :class:`dmr.errors.InputError` naming the file and the offending cell when the file
    is unreadable, a table is missing or malformed, a word is outside the vocabulary, a marker
    is not ``""``, ``"*"`` or ``"**"``, or two numbers share a key.
    """
    source = Path(path) if path is not None else published_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{source}: cannot read the published numbers ({exc})") from exc
    try:
        if not isinstance(document, Mapping):
            raise ValueError("expected a mapping of table name -> table")
        missing = [t for t in TABLES if t not in document]
        unknown = sorted(set(document) - set(TABLES))
        if missing or unknown:
            raise ValueError(f"tables missing {missing}, unknown {unknown}; expected {TABLES}")
        records = [record for t in TABLES for record in _records(t, document[t])]
        frame = pd.DataFrame.from_records(records)
        _validate(frame)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from exc
    frame["value"] = frame["printed"].astype(float)
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)
