"""Paper Table V: per-slice confusion measures of the myocardium on the LVSC validation set.

The LVSC challenge (Suinesiaputra et al., MedIA 2014) scores each slice against the consensus
(CS*) masks inside a region of interest, so specificity and NPV depend on that region; the
counts ``roi_tp, roi_fp, roi_fn, roi_tn`` come from the evaluation (``heldout/metrics/slices/``).
Our DMR-UNet row (:data:`dmr.tables.heldout.OUR_LABEL`) sits beside the seven published methods,
sorted by Jaccard as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dmr.labels import STRUCTURE_NAMES
from dmr.tables.cells import Bootstrap, cells_frame, mean_sd_cells
from dmr.tables.common import fmt, one_dataset, require_columns
from dmr.tables.heldout import (
    HELDOUT_MODEL,
    OUR_LABEL,
    MethodRow,
    Published,
    best_per_column,
    ensemble_rows,
    missing_reason,
)
from dmr.tables.render import Table

#: Per-slice measure -> (printed header, numerator count, denominator counts).
MEASURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "jaccard": ("Jaccard", "tp", ("tp", "fp", "fn")),
    "sensitivity": ("Sensitivity", "tp", ("tp", "fn")),
    "specificity": ("Specificity", "tn", ("tn", "fp")),
    "ppv": ("PPV", "tp", ("tp", "fp")),
    "npv": ("NPV", "tn", ("tn", "fn")),
}
#: (published method, row label, semi- or fully automatic) in the paper's row order.
TABLE5_PUBLISHED: tuple[tuple[str, str, str], ...] = (
    ("AU", "AU [47]", "SA"),
    ("CNR", "CNR [46]", "SA"),
    ("FCN", "FCN [9]", "FA"),
    ("DFCN", "DFCN [44]", "FA"),
    ("AO", "AO [48]", "SA"),
    ("SCR", "SCR [49]", "FA"),
    ("INR", "INR [50]", "FA"),
)
REGIONS: tuple[str, ...] = ("apical", "mid", "basal")
_COUNTS = ("roi_tp", "roi_fp", "roi_fn", "roi_tn")

#: The ROI of the challenge's per-slice measures, for Table V's notes (the lead may reword).
DEFAULT_ROI_NOTE = (
    "counts inside the slice's region of interest: the bounding box of the consensus and "
    "automatic myocardium, enlarged by 10 mm on each side (our reading of Suinesiaputra et al., "
    "MedIA 2014)"
)


def confusion_measures(slices: pd.DataFrame) -> pd.DataFrame:
    """Jaccard, sensitivity, specificity, PPV and NPV of every slice from its ROI counts.

    Jaccard = tp/(tp+fp+fn), sensitivity = tp/(tp+fn), specificity = tn/(tn+fp),
    PPV = tp/(tp+fp), NPV = tn/(tn+fn); NaN where the denominator is 0 (e.g. PPV of an empty
    prediction). Returns one column per measure, indexed like ``slices``.
    """
    require_columns(slices, _COUNTS, "per-slice table")
    counts = {c.removeprefix("roi_"): slices[c].to_numpy(np.float64) for c in _COUNTS}
    if any((v < 0).any() or not np.isfinite(v).all() for v in counts.values()):
        raise ValueError("ROI counts must be finite and non-negative")
    out = {}
    for name, (_, numerator, denominator) in MEASURES.items():
        total = sum(counts[c] for c in denominator)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(total > 0, counts[numerator] / total, np.nan)
    return pd.DataFrame(out, index=slices.index)


def table5(
    slices: pd.DataFrame,
    published: pd.DataFrame,
    status: Mapping[str, object] | None = None,
    roi_note: str = DEFAULT_ROI_NOTE,
    bootstrap: Bootstrap | None = None,
) -> Table:
    """Paper Table V: mean (SD) over slices whose reference has myocardium, per measure.

    Also the regional Jaccard (apical / mid / basal, from the reference), which the paper gives
    in its text: in the notes and as ``text`` cells.
    """
    bootstrap = bootstrap or Bootstrap()
    pub = Published(published, "V")
    reason = missing_reason(status, len(slices))
    rows: list[MethodRow] = []
    for method, label, automation in TABLE5_PUBLISHED:
        row = MethodRow(method, f"{label} (published)", True, {}, {}, automation)
        for name in MEASURES:
            mean, mean_text = pub.get(method, f"{name}_mean", structure="myo")
            sd, sd_text = pub.get(method, f"{name}_sd", structure="myo")
            row.values |= {f"{name}_mean": mean, f"{name}_sd": sd}
            row.texts[name] = f"{mean_text} ({sd_text})"
        rows.append(row)
    cells: list[dict[str, object]] = []
    notes = [f"Per-slice measures, {roi_note}."]
    if reason:
        notes.append(f"{OUR_LABEL} row not reproduced: {reason}.")
    else:
        text = Published(published, "text")
        values, texts, cells, ours_notes = _ours(slices, text, bootstrap)
        rows.append(MethodRow(HELDOUT_MODEL, OUR_LABEL, False, values, texts, "FA"))
        notes += ours_notes
    # The paper orders by Jaccard, descending; ties keep the paper's order (ours last).
    rows.sort(key=lambda r: -r.values["jaccard_mean"])
    notes += [
        "Rows marked (published) are the values printed in the paper's Table V (AU, AO, SCR, "
        "INR from the challenge report; CNR, FCN, DFCN from their papers). SA/FA: semi-/fully "
        "automatic. No significance test (the paper reports none). Bold: best mean per column.",
        f"95 % percentile bootstrap intervals of our means and SDs ({bootstrap.n_resamples} "
        f"resamples of the slices, seed {bootstrap.seed}) are in the table's cells CSV "
        "(results/stats/); slices of one patient are not independent, so they are optimistic.",
    ]
    frame = pd.DataFrame(
        [
            {"method": r.method, "label": r.label, "published": r.published}
            | {"automation": r.automation}
            | r.values
            for r in rows
        ]
    )
    headers = {name: header for name, (header, _, _) in MEASURES.items()}
    best = best_per_column(rows, {f"{name}_mean": (True, 2) for name in MEASURES})
    display = pd.DataFrame(
        [[r.automation, *(r.texts[name] for name in MEASURES)] for r in rows],
        index=[r.label for r in rows],
        columns=["SA/FA", *headers.values()],
    )
    bold = pd.DataFrame(False, index=display.index, columns=display.columns)
    for name, header in headers.items():
        bold[header] = [label in best[f"{name}_mean"] for label in display.index]
    caption = (
        f"Table V: {STRUCTURE_NAMES['myo']} on the LVSC validation set against the consensus "
        "segmentation (CS*): per-slice Jaccard, sensitivity, specificity, PPV and NPV, mean "
        "(SD), in descending order of Jaccard."
    )
    return Table(
        frame=frame,
        caption=caption,
        notes=notes,
        display=display,
        bold=bold,
        cells=cells_frame(cells),
    )


def _ours(
    slices: pd.DataFrame, text: Published, bootstrap: Bootstrap
) -> tuple[dict[str, float], dict[str, str], list[dict[str, object]], list[str]]:
    """Our mean and SD per measure (``<measure>_mean``, ``_sd``), their texts, cells (Table V and
    the regional ``text``), notes.

    ``text`` holds the paper's in-text values, quoted beside our regional Jaccard when present.
    """
    require_columns(
        slices, ("dataset", "model", "fold", "case", "region", *_COUNTS), "per-slice table"
    )
    slices = ensemble_rows(slices, "held-out per-slice table")
    if "structure" in slices.columns:
        slices = slices[slices["structure"].astype(str) == "myo"]
    dataset = one_dataset(slices, "Table V")
    has_myo = (slices["roi_tp"] + slices["roi_fn"]) > 0
    measures = confusion_measures(slices[has_myo])
    values, texts, cells = {}, {}, []
    undefined = []
    for name in MEASURES:
        mean, sd, n, new = mean_sd_cells(
            measures[name], "V", name, dataset, HELDOUT_MODEL, bootstrap, structure="myo"
        )
        values |= {f"{name}_mean": mean, f"{name}_sd": sd}
        texts[name] = f"{fmt(mean, 2)} ({fmt(sd, 2)})"
        cells += new
        if n < len(measures):
            undefined.append(f"{MEASURES[name][0]} {len(measures) - n}")
    frames = slices[["case", "frame"]].drop_duplicates() if "frame" in slices else slices
    notes = [
        f"{OUR_LABEL}: fold models combined by majority vote; every slice of "
        f"{slices['case'].nunique()} case(s), {len(frames)} frame(s): {int(has_myo.sum())} "
        f"slice(s) whose reference has myocardium ({int((~has_myo).sum())} without excluded); SD "
        "over slices (ddof 1)."
    ]
    if undefined:
        notes.append(
            "Slices excluded from a measure because its denominator is 0: "
            + "; ".join(undefined)
            + "."
        )
    regional = []
    for region in REGIONS:
        jaccard = measures.loc[(slices.loc[has_myo, "region"] == region).to_numpy(), "jaccard"]
        mean, sd, n, new = mean_sd_cells(
            jaccard, "text", "jaccard", dataset, HELDOUT_MODEL, bootstrap, "myo", region
        )
        cells += new
        shown = f"{region} {fmt(mean, 2)} ({fmt(sd, 2)}), n = {n}"
        if text.has(HELDOUT_MODEL, "jaccard_mean", region=region):
            paper = [
                text.get(HELDOUT_MODEL, f"jaccard_{stat}", structure=None, region=region)[1]
                for stat in ("mean", "sd")
            ]
            shown += f" (paper {paper[0]} ({paper[1]}))"
        regional.append(shown)
    notes.append(
        f"Regional Jaccard of {OUR_LABEL} (region from the reference), mean (SD) over slices: "
        + "; ".join(regional)
        + "."
    )
    return values, texts, cells, notes
