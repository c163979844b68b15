"""The paper's claims, judged on this run: DMR beats its baseline (Tables II, IV, VI), learned
beats fixed task weights (Fig. 6), and the Dice hardly depends on the threshold T (Fig. 7).

Each claim is ``holds``, ``does not hold`` or ``not run``, with the numbers that decided it, so a
reader can disagree with the rule and still see the evidence.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmr.errors import InputError
from dmr.published.compare import DIRECTION_TABLES

log = logging.getLogger(__name__)

HOLDS, DOES_NOT_HOLD, NOT_RUN = "holds", "does not hold", "not run"
FIGURE_COLUMNS: tuple[str, ...] = ("dataset", "model", "mean", "ci_low", "ci_high", "n")
TABLE_TITLES: dict[str, str] = {
    "I": "Table I",
    "IIa": "Table II(a)",
    "IIb": "Table II(b)",
    "III": "Table III",
    "IV": "Table IV",
    "V": "Table V",
    "VIa": "Table VI(a)",
    "VIb": "Table VI(b)",
    "text": "Text",
}

#: How each claim is decided; the Markdown prints these under the claims.
CLAIM_RULES: tuple[str, ...] = (
    "DMR better than its baseline (per table): holds when our DMR cell is better than its "
    "baseline (the direction rule above) in more than half of the table's DMR cells that we "
    "ran; significant = better and our DMR cell carries a marker.",
    "Learned better than fixed weights (Fig. 6): holds when, on every dataset, the learned "
    "model's 95 % CI lies wholly above the fixed-weight model's (the paper's 'based on the 95% "
    "bootstrap confidence intervals').",
    "T insensitive (Fig. 7): holds when, on every dataset, the 95 % CIs of all thresholds "
    "share a common value (no threshold is better than another by the CIs).",
)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and whether this run supports it."""

    name: str
    status: str
    detail: str


def read_figure_csv(path: str | os.PathLike[str] | None) -> pd.DataFrame | None:
    """A figure's data CSV (columns :data:`FIGURE_COLUMNS`), or None when not given or absent."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        log.warning("figure data %s not found: its claim counts as not run", path)
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable figure CSV ({exc})") from exc
    missing = [c for c in FIGURE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: figure data lacks column(s) {missing}")
    if frame.duplicated(["dataset", "model"]).any():
        raise InputError(f"{path}: several rows per dataset and model; expected one point each")
    return frame.assign(arch=frame["model"].str.partition("-")[0])


def _point(row: pd.Series) -> str:
    return f"{row['model']} {row['mean']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"


def direction_claims(comparison: pd.DataFrame) -> list[Claim]:
    """ "DMR better than its baseline" for each of Tables II(a), II(b), IV, VI(a), VI(b)."""
    claims = []
    for table in DIRECTION_TABLES:
        rows = comparison[
            (comparison["table"] == table) & (comparison["published_direction"] != "")
        ]
        name = f"DMR better than its baseline, {TABLE_TITLES[table]}"
        paper_better = rows["published_direction"] == "better"
        paper = (
            f"paper: {int(paper_better.sum())} of {len(rows)} "
            f"({int((paper_better & (rows['published_marker'] != '')).sum())} significantly)"
        )
        ran = rows[rows["reproduced_direction"] != ""]
        if ran.empty:
            claims.append(Claim(name, NOT_RUN, f"no DMR/baseline pair ran; {paper}"))
            continue
        better = ran["reproduced_direction"] == "better"
        significant = int((better & (ran["reproduced_marker"] != "")).sum())
        agree = int((ran["direction_verdict"] == "direction reproduced").sum())
        phantom = " (phantom data)" if ran["phantom"].any() else ""
        detail = (
            f"this run{phantom}: DMR better in {int(better.sum())} of {len(ran)} cells "
            f"({significant} significantly), worse in "
            f"{int((ran['reproduced_direction'] == 'worse').sum())}; {paper}; "
            f"same direction as the paper in {agree} of {len(ran)}"
        )
        status = HOLDS if better.sum() > len(ran) / 2 else DOES_NOT_HOLD
        claims.append(Claim(name, status, detail))
    return claims


def weighting_claim(fig6: pd.DataFrame | None) -> Claim:
    """Fig. 6: the learned (``{arch}-dmr``) vs fixed-weight (``{arch}-dmr_fixed``) models."""
    name = "Learned better than fixed task weights (Fig. 6)"
    if fig6 is None:
        return Claim(name, NOT_RUN, "no Fig. 6 data (results/figures/fig6.csv)")
    verdicts, details = [], []
    for _, fixed in fig6[fig6["model"].str.endswith("-dmr_fixed")].iterrows():
        learned = fig6[
            (fig6["dataset"] == fixed["dataset"]) & (fig6["model"] == f"{fixed['arch']}-dmr")
        ]
        if learned.empty:
            continue
        above = learned.iloc[0]["ci_low"] > fixed["ci_high"]
        verdicts.append(above)
        relation = "CI above" if above else "CIs overlap or lower"
        details.append(
            f"{fixed['dataset']}: {_point(learned.iloc[0])} vs {_point(fixed)}: {relation}"
        )
    if not verdicts:
        return Claim(name, NOT_RUN, "Fig. 6 data hold no learned/fixed pair of one network")
    return Claim(name, HOLDS if all(verdicts) else DOES_NOT_HOLD, "; ".join(details))


def threshold_claim(fig7: pd.DataFrame | None) -> Claim:
    """Fig. 7: the models of one network trained with different thresholds T."""
    name = "Dice insensitive to the distance-map threshold T (Fig. 7)"
    if fig7 is None:
        return Claim(name, NOT_RUN, "no Fig. 7 data (results/figures/fig7.csv)")
    verdicts, details = [], []
    for (dataset, _), group in fig7.groupby(["dataset", "arch"], sort=True):
        if len(group) < 2:
            continue
        shared = group["ci_low"].max() <= group["ci_high"].min()
        verdicts.append(shared)
        points = ", ".join(_point(row) for _, row in group.iterrows())
        details.append(f"{dataset}: {points}: CIs {'share' if shared else 'do not share'} a value")
    if not verdicts:
        return Claim(name, NOT_RUN, "Fig. 7 data hold fewer than two thresholds per network")
    return Claim(name, HOLDS if all(verdicts) else DOES_NOT_HOLD, "; ".join(details))
