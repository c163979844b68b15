"""Clinical indices in the tables: Table II(b) and the myocardial mass rows of Table IV.

Each index is compared between the reference and the automatic segmentation of the same case
(``results/<dataset>/metrics/clinical/<model>.csv``): Pearson correlation, bias (mean of automatic
minus reference) and the limits-of-agreement half width 1.96 x SD (paper II.G.3-4), each with a
paired bootstrap interval over the cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.evaluation.stats import agreement
from dmr.labels import STRUCTURE_ABBREVIATIONS
from dmr.tables.cells import Bootstrap, Interval, cell, cells_frame
from dmr.tables.common import (
    AGREEMENT_BOLD_RULE,
    MISSING,
    PHASE_LABELS,
    PaperModel,
    Rows,
    best_agreement,
    caption_abbreviations,
    fmt,
    is_best,
    model_names,
    one_dataset,
    require_columns,
    split_models,
    two_level,
)
from dmr.tables.render import Table

_REQUIRED = ("dataset", "arch", "variant", "case", "quantity", "reference", "prediction")


@dataclass(frozen=True)
class Agreement:
    """Correlation, bias and LoA half width of one index for one model, with intervals."""

    n: int
    n_dropped: int
    r: float
    bias: float
    loa: float
    r_ci: Interval
    bias_ci: Interval
    loa_ci: Interval

    def text(self) -> str:
        """The paper's "bias (LoA)" cell."""
        if not np.isfinite(self.bias):
            return MISSING
        return f"{self.bias:.2f} ({fmt(self.loa, 2)})"


def summarise(reference: pd.Series, prediction: pd.Series, bootstrap: Bootstrap) -> Agreement:
    """:func:`dmr.evaluation.stats.agreement` of paired values plus paired-bootstrap intervals."""
    out = agreement(reference.to_numpy(float), prediction.to_numpy(float))
    return Agreement(
        n=int(out["n"]),
        n_dropped=int(out["n_dropped"]),
        r=float(out["pearson_r"]),
        bias=float(out["bias"]),
        loa=float(out["loa_half_width"]),
        r_ci=bootstrap.paired(reference, prediction, "r"),
        bias_ci=bootstrap.paired(reference, prediction, "bias"),
        loa_ci=bootstrap.paired(reference, prediction, "loa"),
    )


def check_clinical(clinical: pd.DataFrame, what: str) -> pd.DataFrame:
    """Required columns, and one row per model, case and quantity."""
    require_columns(clinical, _REQUIRED, f"clinical table of {what}")
    key = ["arch", "variant", "case", "quantity"]
    duplicated = clinical.duplicated(key, keep=False)
    if duplicated.any():
        example = clinical.loc[duplicated, key].iloc[0].tolist()
        raise InputError(
            f"{what}: {int(duplicated.sum())} duplicated model/case/quantity rows in the clinical "
            f"tables (a CSV passed twice?), e.g. {example}"
        )
    return clinical


def index_of(clinical: pd.DataFrame, model: PaperModel | str, quantity: str) -> pd.DataFrame:
    """Rows (reference, prediction) of one model's clinical index, in case order."""
    name = model if isinstance(model, str) else model.name
    rows = clinical[(model_names(clinical) == name).to_numpy() & (clinical["quantity"] == quantity)]
    return rows.sort_values("case")


def agreement_cells(
    table: str,
    dataset: str,
    prefix: str,
    model: str,
    result: Agreement,
    phase: str,
    structure: str,
) -> list[dict[str, object]]:
    """Cells ``<prefix>_r``, ``<prefix>_bias``, ``<prefix>_loa`` of one index and model."""
    return [
        cell(
            table,
            dataset,
            f"{prefix}_{kind}",
            model,
            value,
            interval,
            result.n,
            phase=phase,
            structure=structure,
        )
        for kind, value, interval in (
            ("r", result.r, result.r_ci),
            ("bias", result.bias, result.bias_ci),
            ("loa", result.loa, result.loa_ci),
        )
    ]


def _dropped_note(dropped: list[str], what: str) -> list[str]:
    if not dropped:
        return []
    return [
        f"{what}: cases without a defined value in reference or prediction (e.g. EF with an "
        f"empty ED chamber) excluded: {'; '.join(dropped)}."
    ]


AGREEMENT_NOTE = (
    "Corr: Pearson correlation of reference and automatic values over cases. Bias: mean of "
    "automatic minus reference; in brackets the limits-of-agreement half width 1.96 x SD of the "
    "differences. " + AGREEMENT_BOLD_RULE
)


# --------------------------------------------------------------------------- Table II(b)
#: (row label, clinical quantity, cells prefix, structure, phase) in the paper's row order.
TABLE2B_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    (f"{STRUCTURE_ABBREVIATIONS['lv']} EF", "lv_ef_pct", "ef", "lv", ""),
    (f"{STRUCTURE_ABBREVIATIONS['rv']} EF", "rv_ef_pct", "ef", "rv", ""),
    (f"{STRUCTURE_ABBREVIATIONS['myo']} Mass", "myo_mass_ed_g", "mass", "myo", "ED"),
)
CORR, BIAS = "Correlation Coefficient", "Bias (LoA)"


def table2b(clinical: pd.DataFrame, bootstrap: Bootstrap | None = None) -> Table:
    """Paper Table II(b) (ACDC): correlation and bias (LoA) of LV EF, RV EF and ED myocardial mass.

    EF in %, mass in g (ED myocardium volume x density); one value per case and model.
    """
    bootstrap = bootstrap or Bootstrap()
    clinical = check_clinical(clinical, "Table II(b)")
    dataset = one_dataset(clinical, "Table II(b)")
    models, ignored = split_models(model_names(clinical).unique(), "Table II(b)")
    csv_rows: list[dict[str, object]] = []
    display: dict[str, dict[tuple[str, str], str]] = {}
    bold: dict[str, dict[tuple[str, str], bool]] = {}
    cells: list[dict[str, object]] = []
    counts, dropped, missing = [], [], []
    for label, quantity, prefix, structure, phase in TABLE2B_ROWS:
        results = {}
        for model in models:
            rows = index_of(clinical, model, quantity)
            if rows.empty:
                missing.append(f"{model.short} {label}")
            results[model.short] = summarise(rows["reference"], rows["prediction"], bootstrap)
            cells += agreement_cells(
                "IIb", dataset, prefix, model.name, results[model.short], phase, structure
            )
            if results[model.short].n_dropped:
                dropped.append(f"{model.short} {label} {results[model.short].n_dropped}")
        counts.append(f"{label} " + "/".join(str(results[m.short].n) for m in models))
        best_r = is_best({k: v.r for k, v in results.items()}, True, 3)
        best_bias = best_agreement(
            {k: v.bias for k, v in results.items()}, {k: v.loa for k, v in results.items()}
        )
        csv_row: dict[str, object] = {"index": label}
        csv_row |= {f"Corr {k}": v.r for k, v in results.items()}
        csv_row |= {f"Bias {k}": v.bias for k, v in results.items()}
        csv_row |= {f"LoA {k}": v.loa for k, v in results.items()}
        csv_row |= {f"n {k}": v.n for k, v in results.items()}
        csv_rows.append(csv_row)
        display[label] = {(CORR, k): fmt(v.r, 3) for k, v in results.items()}
        display[label] |= {(BIAS, k): v.text() for k, v in results.items()}
        bold[label] = {(CORR, k): k in best_r for k in results}
        bold[label] |= {(BIAS, k): k in best_bias for k in results}

    labels = "/".join(m.short for m in models)
    notes = [f"Cases per index ({labels}): " + "; ".join(counts) + "."]
    notes += _dropped_note(dropped, "Pairs dropped")
    if missing:
        notes.append(f"No clinical values ({MISSING}): {', '.join(missing)}.")
    if ignored:
        notes.append(f"Not part of Table II, ignored: {', '.join(ignored)}.")
    notes += [
        "EF in %, myocardial mass in g at ED (myocardium volume x density). No significance "
        "test (the paper reports none for Table II(b)).",
        AGREEMENT_NOTE,
        f"95 % paired percentile bootstrap intervals of r, bias and LoA ({bootstrap.n_resamples} "
        f"resamples of the cases, seed {bootstrap.seed}) are in the table's cells CSV "
        "(results/stats/).",
    ]
    caption = (
        f"Table II(b): clinical indices on {dataset.upper()}, automatic vs reference "
        "segmentation: correlation coefficient and bias (limits of agreement)."
        + caption_abbreviations(models)
    )
    return Table(
        frame=pd.DataFrame(csv_rows),
        caption=caption,
        notes=notes,
        display=two_level(display),
        bold=two_level(bold),
        cells=cells_frame(cells),
    )


# --------------------------------------------------------------------------- Table IV mass rows
MASS_CORR, MASS_BIAS = "Mass (Corr)", "Mass (g) (Bias+LoA)"


def mass_rows(
    clinical: pd.DataFrame,
    models: list[PaperModel],
    phases: list[str],
    dataset: str,
    bootstrap: Bootstrap,
) -> Rows:
    """Table IV's two mass rows per phase: correlation, and bias (LoA) in g.

    The CSV gets three plain rows (``Mass (Corr)``, ``Mass bias (g)``, ``Mass LoA (g)``) with the
    table's ``<phase> <label>`` columns; the typeset table prints bias and LoA in one cell.
    """
    clinical = check_clinical(clinical, "Table IV")
    if len(clinical) and one_dataset(clinical, "Table IV") != dataset:
        raise InputError(
            f"Table IV: the clinical tables are of {one_dataset(clinical, 'Table IV')!r}, the "
            f"metrics of {dataset!r}"
        )
    out = Rows(
        csv={
            MASS_CORR: {"metric": MASS_CORR},
            "Mass bias (g)": {"metric": "Mass bias (g)"},
            "Mass LoA (g)": {"metric": "Mass LoA (g)"},
        },
        display={MASS_CORR: {}, MASS_BIAS: {}},
        bold={MASS_CORR: {}, MASS_BIAS: {}},
    )
    counts, dropped, missing = [], [], []
    for phase in phases:
        quantity = f"myo_mass_{phase.lower()}_g"
        results = {}
        for model in models:
            rows = index_of(clinical, model, quantity)
            if rows.empty:
                missing.append(f"{model.short} {phase}")
            result = summarise(rows["reference"], rows["prediction"], bootstrap)
            results[model.short] = result
            out.csv[MASS_CORR][f"{phase} {model.short}"] = result.r
            out.csv["Mass bias (g)"][f"{phase} {model.short}"] = result.bias
            out.csv["Mass LoA (g)"][f"{phase} {model.short}"] = result.loa
            out.cells += agreement_cells("IV", dataset, "mass", model.name, result, phase, "myo")
            if result.n_dropped:
                dropped.append(f"{model.short} {phase} {result.n_dropped}")
        counts.append(f"{phase} " + "/".join(str(results[m.short].n) for m in models))
        best_r = is_best({k: v.r for k, v in results.items()}, True, 3)
        best_bias = best_agreement(
            {k: v.bias for k, v in results.items()}, {k: v.loa for k, v in results.items()}
        )
        for model in models:
            key = (PHASE_LABELS[phase], model.short)
            out.display[MASS_CORR][key] = fmt(results[model.short].r, 3)
            out.display[MASS_BIAS][key] = results[model.short].text()
            out.bold[MASS_CORR][key] = model.short in best_r
            out.bold[MASS_BIAS][key] = model.short in best_bias
    labels = "/".join(m.short for m in models)
    out.notes.append(
        f"Myocardial mass (g, myocardium volume x density) per phase, cases ({labels}): "
        + "; ".join(counts)
        + ". No test on the mass rows (the paper marks none)."
    )
    out.notes += _dropped_note(dropped, "Mass pairs dropped")
    if missing:
        out.notes.append(f"No myocardial mass values ({MISSING}): {', '.join(missing)}.")
    out.notes.append(AGREEMENT_NOTE)
    return out
