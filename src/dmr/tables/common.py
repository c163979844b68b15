"""What several tables share: the paper's six models and their labels, phases, "best" cells.

"Best" is bold: the highest Dice, Jaccard or correlation; the lowest MSD or HD; for a bias with
its limits of agreement, the smallest |bias| (never the signed bias), ties at display precision
broken by the narrower limits. A value that is not a number is never bold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.labels import PAPER_MODELS as LABEL_PAPER_MODELS
from dmr.labels import (
    abbreviations_note,
    model_display_name,
    model_short_name,
    split_model_name,
)

#: Printed where a table has no value.
MISSING = "–"

PHASE_LABELS = {"ED": "End Diastole (ED)", "ES": "End Systole (ES)"}


@dataclass(frozen=True)
class PaperModel:
    """One of the paper's six networks: ``arch``-``variant`` and its two printed labels, both
    from :mod:`dmr.labels` (the names every figure and report page uses too)."""

    arch: str
    variant: str

    @property
    def name(self) -> str:
        return f"{self.arch}-{self.variant}"

    @property
    def short(self) -> str:
        """Column label of Tables II, IV, VI (SN, DMR-SN, ..., DMR-UNet)."""
        return model_short_name(self.name)

    @property
    def long(self) -> str:
        """Row label of Tables I, III, V (SegNet, DMR-SegNet, ..., DMR-UNet)."""
        return model_display_name(self.name)

    @property
    def is_dmr(self) -> bool:
        return self.variant == "dmr"


#: In the paper's column order of Tables II, IV and VI.
PAPER_MODELS: tuple[PaperModel, ...] = tuple(
    PaperModel(*split_model_name(name)) for name in LABEL_PAPER_MODELS
)
_BY_NAME = {m.name: m for m in PAPER_MODELS}


def paper_model(name: str) -> PaperModel:
    return _BY_NAME[name]


def baseline_of(model: PaperModel) -> PaperModel:
    return _BY_NAME[f"{model.arch}-base"]


def split_models(names: Iterable[str], table: str) -> tuple[list[PaperModel], list[str]]:
    """(paper models present, in paper order; other model names, sorted, to note as ignored)."""
    present = {str(n) for n in names}
    models = [m for m in PAPER_MODELS if m.name in present]
    ignored = sorted(present - set(_BY_NAME))
    if not models:
        raise InputError(
            f"no base/dmr SegNet, USegNet or UNet rows for {table} (found only {ignored})"
        )
    return models, ignored


def model_names(frame: pd.DataFrame) -> pd.Series:
    """``arch-variant`` of every row of a metric or clinical table."""
    return frame["arch"].astype(str) + "-" + frame["variant"].astype(str)


def one_dataset(frame: pd.DataFrame, what: str) -> str:
    """The single ``dataset`` of a table's input (several = CSVs of different datasets mixed)."""
    datasets = sorted(frame["dataset"].astype(str).unique())
    if len(datasets) != 1:
        raise InputError(
            f"{what} summarises one dataset; the inputs hold {datasets}. "
            "Pass the CSVs of one dataset."
        )
    return datasets[0]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}; has {list(frame.columns)}")


def is_best(values: dict[str, float], higher_is_better: bool, decimals: int) -> set[str]:
    """Keys whose displayed value is the best (ties at display precision all win)."""
    shown = {k: round(v, decimals) for k, v in values.items() if np.isfinite(v)}
    if not shown:
        return set()
    best = max(shown.values()) if higher_is_better else min(shown.values())
    return {k for k, v in shown.items() if v == best}


def best_agreement(bias: dict[str, float], loa: dict[str, float], decimals: int = 2) -> set[str]:
    """Keys of the best "bias (LoA)" cells: the smallest |bias| as displayed; among those tied
    at display precision, the narrowest limits of agreement (all tied keys when none has one).

    A small bias says the automatic values are right on average, which narrow limits around a
    large bias do not; so the bias decides first and the LoA width only breaks ties.
    """
    absolute = {k: abs(v) for k, v in bias.items() if np.isfinite(v)}
    tied = is_best(absolute, higher_is_better=False, decimals=decimals)
    return is_best({k: loa[k] for k in tied}, higher_is_better=False, decimals=decimals) or tied


#: The bold rule of the agreement cells, in words, for the tables' notes.
AGREEMENT_BOLD_RULE = (
    "Bold: highest correlation; for bias (LoA), the smallest absolute bias, ties at the printed "
    "precision broken by the narrower limits of agreement."
)


def caption_abbreviations(models: Iterable[PaperModel]) -> str:
    """The column abbreviations a caption defines: only those of the models the table shows."""
    note = abbreviations_note(m.name for m in models)
    return f" {note}" if note else ""


def fmt(value: float, decimals: int) -> str:
    """A number at the table's precision, or :data:`MISSING`."""
    return f"{value:.{decimals}f}" if np.isfinite(value) else MISSING


@dataclass
class Rows:
    """Rows of a table with ``<phase> <label>`` columns, built apart and appended by a builder.

    ``csv``: row label -> CSV column -> plain number; ``display``: row label -> (group, column)
    -> text; ``bold``: the same keys -> bool; ``cells``: rows of the cells frame; ``notes``.
    """

    csv: dict[str, dict[str, object]] = field(default_factory=dict)
    display: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    bold: dict[str, dict[tuple[str, str], bool]] = field(default_factory=dict)
    cells: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        self.csv.update(other.csv)
        self.display.update(other.display)
        self.bold.update(other.bold)
        self.cells.extend(other.cells)
        self.notes.extend(other.notes)


def two_level(rows: dict[str, dict[tuple[str, str], object]]) -> pd.DataFrame:
    """A display/bold frame: row labels as index, (group, column) as a two-level header."""
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame
