"""Held-out test sets beside the published challenge entries: Table III (ACDC), and what Table V
(LVSC, :mod:`dmr.tables.confusion`) shares with it.

Our row is the DMR-UNet ensemble (majority vote of the K fold models, ``fold`` -1) on the
held-out split; the other rows are the paper's published values (:mod:`dmr.published`, passed in
as a frame), marked "(published)". When the held-out split has no reference segmentations
(``heldout/status.json`` says ``"references": false``) or its metrics hold no rows, the table has
the published rows only and a note saying why ours is missing; it never shows a made-up row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.labels import MAIN_MODEL, STRUCTURE_ABBREVIATIONS, model_display_name
from dmr.published import COLUMNS as PUBLISHED_COLUMNS
from dmr.tables.cells import Bootstrap, cell, cells_frame
from dmr.tables.clinical import summarise
from dmr.tables.common import (
    PHASE_LABELS,
    fmt,
    is_best,
    one_dataset,
    require_columns,
    two_level,
)
from dmr.tables.render import Table

#: The model whose fold ensemble is scored on the held-out splits (paper III.A).
HELDOUT_MODEL = MAIN_MODEL
OUR_LABEL = model_display_name(HELDOUT_MODEL)


@dataclass
class MethodRow:
    """One row of Table III or V: a published method or our ensemble."""

    method: str  # cells/published vocabulary: "Isensee", "unet-dmr", ...
    label: str  # printed row label
    published: bool
    values: dict[str, float]  # plain numbers for the CSV, by CSV column
    texts: dict[str, str]  # printed text, by CSV column
    automation: str = ""  # Table V: SA (semi-) or FA (fully automatic)


def best_per_column(
    rows: list[MethodRow], columns: dict[str, tuple[bool, int]]
) -> dict[str, set[str]]:
    """Row labels typeset bold per CSV column: {column: (higher is better, decimals)}."""
    return {
        column: is_best({r.label: r.values[column] for r in rows}, higher, decimals)
        for column, (higher, decimals) in columns.items()
    }


def missing_reason(status: Mapping[str, object] | None, n_rows: int) -> str:
    """Why our row cannot be shown ('' when it can)."""
    if status is not None and status.get("references") is False:
        return str(status.get("reason") or "the held-out split has no reference segmentations")
    if n_rows == 0:
        return "the held-out metrics hold no rows"
    return ""


class Published:
    """Look-ups of one paper table's published values, by method and cell coordinates."""

    def __init__(self, published: pd.DataFrame, table: str) -> None:
        require_columns(published, PUBLISHED_COLUMNS, "published values")
        frame = published[published["table"].astype(str) == table].copy()
        for column in ("phase", "structure", "region", "printed"):
            frame[column] = frame[column].fillna("").astype(str)
        self.frame, self.table = frame, table

    def _select(
        self, method: str, quantity: str, phase: str, structure: str | None, region: str
    ) -> pd.DataFrame:
        f = self.frame
        keep = (
            (f["method"] == method)
            & (f["quantity"] == quantity)
            & (f["phase"] == phase)
            & (f["region"] == region)
        )
        if structure is not None:  # None: any structure (e.g. the paper's text values)
            keep &= f["structure"] == structure
        return f[keep]

    def get(
        self,
        method: str,
        quantity: str,
        phase: str = "",
        structure: str | None = "",
        region: str = "",
        decimals: int = 2,
    ) -> tuple[float, str]:
        """(value, text as printed) of one published cell; InputError unless exactly one."""
        rows = self._select(method, quantity, phase, structure, region)
        if len(rows) != 1:
            raise InputError(
                f"published values: {len(rows)} rows (expected 1) for table {self.table!r} "
                f"{method} {quantity} phase={phase!r} structure={structure!r} region={region!r}"
            )
        value = float(rows["value"].iloc[0])
        return value, rows["printed"].iloc[0] or fmt(value, decimals)

    def has(self, method: str, quantity: str, phase: str = "", region: str = "") -> bool:
        return not self._select(method, quantity, phase, None, region).empty


def ensemble_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The held-out model's rows; anything but its fold ensemble (fold -1) is an error."""
    rows = frame[frame["model"].astype(str) == HELDOUT_MODEL]
    if rows.empty and len(frame):
        found = sorted(frame["model"].astype(str).unique())
        raise InputError(f"{what}: no rows of {HELDOUT_MODEL} (found {found})")
    folds = sorted(set(rows["fold"].astype(int)) - {-1})
    if folds:
        raise InputError(
            f"{what}: expected the fold ensemble (fold -1) of {HELDOUT_MODEL}, found folds {folds}"
        )
    return rows


# --------------------------------------------------------------------------- Table III
@dataclass(frozen=True)
class _Column:
    phase: str  # ED, ES or "" (EF)
    structure: str
    quantity: str  # cells quantity: dice, hd_mm, mass_r, volume_r, ef_r

    @property
    def kind(self) -> str:
        return {"dice": "Dice", "hd_mm": "HD"}.get(self.quantity, "Corr")

    @property
    def header(self) -> tuple[str, str]:
        group = PHASE_LABELS.get(self.phase, "EF")
        return group, f"{STRUCTURE_ABBREVIATIONS[self.structure]} {self.kind}"

    @property
    def csv(self) -> str:
        return f"{self.phase or 'EF'} {self.header[1]}"

    @property
    def decimals(self) -> int:
        return 3 if self.kind == "Corr" else 2


#: The paper's column order: per phase LV, RV, Myo (Dice, HD), then the phase's myocardium
#: correlation (mass at ED, volume at ES); last the EF correlations.
TABLE3_COLUMNS: tuple[_Column, ...] = (
    *(
        column
        for phase, corr in (("ED", "mass_r"), ("ES", "volume_r"))
        for column in (
            *(
                _Column(phase, structure, quantity)
                for structure in ("lv", "rv", "myo")
                for quantity in ("dice", "hd_mm")
            ),
            _Column(phase, "myo", corr),
        )
    ),
    _Column("", "lv", "ef_r"),
    _Column("", "rv", "ef_r"),
)
#: (published method, row label) in the paper's row order.
TABLE3_PUBLISHED: tuple[tuple[str, str], ...] = (
    ("Baumgartner", "Baumgartner [43]"),
    ("Khened", "Khened [44]"),
    ("Isensee", "Isensee [45]"),
)


def _table3_ours(
    metrics: pd.DataFrame, clinical: pd.DataFrame, bootstrap: Bootstrap
) -> tuple[dict[str, float], list[dict[str, object]], list[str]]:
    """Our values per column, their cells, and notes on n and exclusions."""
    require_columns(
        metrics,
        (
            "dataset",
            "model",
            "fold",
            "case",
            "phase",
            "structure",
            "dice",
            "hd_mm",
            "volume_gt_ml",
            "volume_pred_ml",
        ),
        "held-out metrics",
    )
    require_columns(
        clinical,
        ("model", "fold", "case", "quantity", "reference", "prediction"),
        "held-out clinical table",
    )
    metrics = ensemble_rows(metrics, "held-out metrics")
    clinical = ensemble_rows(clinical, "held-out clinical table")
    dataset = one_dataset(metrics, "Table III")
    values: dict[str, float] = {}
    cells, notes = [], []
    for column in TABLE3_COLUMNS:
        at = metrics[
            (metrics["phase"] == column.phase) & (metrics["structure"] == column.structure)
        ]
        if column.quantity in ("dice", "hd_mm"):
            data = at[column.quantity].to_numpy(float)
            defined = data[np.isfinite(data)]
            value = float(defined.mean()) if defined.size else float("nan")
            interval, n = bootstrap.mean(defined), int(defined.size)
            if defined.size < data.size:
                notes.append(
                    f"{column.csv}: undefined (exactly one mask empty) in "
                    f"{data.size - defined.size} case(s), excluded."
                )
        else:
            if column.quantity == "volume_r":  # myocardial volume at ES, from the metric table
                pairs = at.sort_values("case")[["volume_gt_ml", "volume_pred_ml"]]
                pairs.columns = ["reference", "prediction"]
            else:
                quantity = {"mass_r": "myo_mass_ed_g", "ef_r": f"{column.structure}_ef_pct"}
                pairs = clinical[clinical["quantity"] == quantity[column.quantity]]
                pairs = pairs.sort_values("case")
            result = summarise(pairs["reference"], pairs["prediction"], bootstrap)
            value, interval, n = result.r, result.r_ci, result.n
            if result.n_dropped:
                notes.append(f"{column.csv}: undefined in {result.n_dropped} case(s), excluded.")
        values[column.csv] = value
        cells.append(
            cell(
                "III",
                dataset,
                column.quantity,
                HELDOUT_MODEL,
                value,
                interval,
                n,
                phase=column.phase,
                structure=column.structure,
            )
        )
    n_cases = metrics["case"].nunique()
    notes.insert(
        0,
        f"{OUR_LABEL}: {n_cases} held-out case(s) of {dataset.upper()}, fold models "
        "combined by majority vote.",
    )
    return values, cells, notes


def table3(
    metrics: pd.DataFrame,
    clinical: pd.DataFrame,
    published: pd.DataFrame,
    status: Mapping[str, object] | None = None,
    bootstrap: Bootstrap | None = None,
) -> Table:
    """Paper Table III: DMR-UNet ensemble on the ACDC test set beside the top three entries.

    Dice (fraction) and HD (mm): mean over cases per phase and structure; Corr: Pearson r of the
    myocardial mass at ED, the myocardial volume at ES, and the LV and RV EF.
    """
    bootstrap = bootstrap or Bootstrap()
    pub = Published(published, "III")
    reason = missing_reason(status, len(metrics))
    rows: list[MethodRow] = []
    for method, label in TABLE3_PUBLISHED:
        row = MethodRow(method, f"{label} (published)", True, {}, {})
        for c in TABLE3_COLUMNS:
            row.values[c.csv], row.texts[c.csv] = pub.get(
                method, c.quantity, c.phase, c.structure, decimals=c.decimals
            )
        rows.append(row)
    cells: list[dict[str, object]] = []
    notes: list[str] = []
    if reason:
        notes.append(f"{OUR_LABEL} row not reproduced: {reason}.")
    else:
        ours, cells, notes = _table3_ours(metrics, clinical, bootstrap)
        texts = {c.csv: fmt(ours[c.csv], c.decimals) for c in TABLE3_COLUMNS}
        rows.append(MethodRow(HELDOUT_MODEL, OUR_LABEL, False, ours, texts))
    notes += [
        "Dice (fraction) and HD (mm): mean over cases. Corr: Pearson correlation of reference "
        "and automatic values: myocardial mass at ED, myocardial volume at ES, LV and RV EF.",
        "Rows marked (published) are the values printed in the paper's Table III; no "
        "significance test (the paper reports none). Bold: best per column.",
        f"95 % percentile bootstrap intervals of our values ({bootstrap.n_resamples} resamples "
        f"of the cases, paired for correlations, seed {bootstrap.seed}) are in the table's cells "
        "CSV (results/stats/).",
    ]
    frame = pd.DataFrame(
        [{"method": r.method, "label": r.label, "published": r.published, **r.values} for r in rows]
    )
    best = best_per_column(rows, {c.csv: (c.kind != "HD", c.decimals) for c in TABLE3_COLUMNS})
    display = {r.label: {c.header: r.texts[c.csv] for c in TABLE3_COLUMNS} for r in rows}
    bold = {r.label: {c.header: r.label in best[c.csv] for c in TABLE3_COLUMNS} for r in rows}
    caption = (
        f"Table III: {OUR_LABEL} (fold ensemble) against the top three ACDC challenge entries on "
        "the held-out test set (50 patients in the paper): Dice, Hausdorff distance (mm) and "
        "correlation of the clinical indices."
    )
    return Table(
        frame=frame,
        caption=caption,
        notes=notes,
        display=two_level(display),
        bold=two_level(bold),
        cells=cells_frame(cells),
    )
