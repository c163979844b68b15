"""The paper's claims, judged on this run: DMR beats its baseline (Tables II, IV, VI), learned
beats fixed task weights (Fig. 6), and the Dice hardly depends on the threshold T (Fig. 7).

Each claim gets one of :data:`CLAIM_STATUSES` (a contract: the JSON, the Markdown and the report
use these words) by the rules of :data:`CLAIM_RULES`, with the numbers that decided it, so a
reader can disagree with the rule and still see the evidence. A direction alone is not evidence:
a "DMR better" claim needs cells that differ significantly, and models that did not learn the
task (mean Dice below :data:`LEARNED_DICE`) cannot support or refute anything.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmr.errors import InputError
from dmr.published.cells import replicated_fraction
from dmr.published.compare import DIRECTION_TABLES
from dmr.published.vocabulary import KEY, base_of

log = logging.getLogger(__name__)

HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive"
NOT_MEANINGFUL, NOT_RUN = "not meaningful", "not run"
#: Every status a claim can have (the contract of ``paper_vs_reproduced.json``'s claims).
CLAIM_STATUSES: tuple[str, ...] = (HOLDS, CONTRADICTED, INCONCLUSIVE, NOT_MEANINGFUL, NOT_RUN)
#: Mean Dice (0-1) on its test data below which a model has not learned the task.
LEARNED_DICE = 0.5
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
#: The table whose Dice cells tell whether a model of a table learned (Table II(b) has none).
_DICE_TABLE_OF: dict[str, str] = {"IIb": "IIa"}

#: How each claim is decided; the Markdown and the report print these under the claims.
CLAIM_RULES: tuple[str, ...] = (
    f"`not meaningful`: the models a claim compares did not learn the task: a model whose mean "
    f"Dice on the test data of the claim's table or figure is below {LEARNED_DICE:g} "
    f"({100 * LEARNED_DICE:g} %) is left out, with its pair, and a claim left with nothing to "
    "judge is `not meaningful`. `not run`: the config produced none of the claim's numbers.",
    "DMR better than its baseline (per table): a cell counts as evidence only when DMR and its "
    "baseline differ significantly (our DMR cell, or in Table IV the pair, carries a `*` or "
    "`**` marker) and the difference replicates in every training: each fold's network, "
    "tested alone (in-domain on its own test cases, across datasets on every case), differs "
    "from its baseline's in the same direction at the table's weaker level (cells CSV "
    "`replicated` = K/K). One training per network is not enough: the same config in float32 "
    "and in bf16, or with another seed, gave significant cells in opposite directions "
    "(docs/miniature.md). `holds` when at least one cell is significantly better and none "
    "significantly worse; `contradicted` when at least one is significantly worse and none "
    "significantly better; `inconclusive` otherwise (no such cell, or both kinds). "
    "Significant cells that do not replicate, and directions without significance, are "
    "counted in the detail, not judged.",
    "Learned better than fixed weights (Fig. 6): per dataset, the learned model's 95 % CI "
    "wholly above the fixed-weight model's is for the claim, wholly below against it "
    "(the paper's 'based on the 95% bootstrap confidence intervals'). `holds` when it is "
    "above on every dataset; `contradicted` when below on at least one and above on none; "
    "`inconclusive` otherwise.",
    "Dice insensitive to T (Fig. 7): per dataset, the 95 % CIs of all thresholds sharing a "
    "common value is for the claim, two disjoint CIs against it. `holds` when they share a "
    "value on every dataset; `contradicted` when they are disjoint on every dataset; "
    "`inconclusive` when the datasets disagree.",
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


def learned_dice(comparison: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """Mean reproduced Dice (0-1) of each (table, dataset, method) over its Dice cells.

    A table without Dice cells (Table II(b)) borrows them from the table of the same test data
    (Table II(a)).
    """
    dice = comparison[(comparison["quantity"] == "dice_pct") & comparison["reproduced"].notna()]
    means = dice.groupby(["table", "dataset", "method"])["reproduced"].mean() / 100.0
    found = {key: float(value) for key, value in means.items()}
    for table, source in _DICE_TABLE_OF.items():
        for (t, dataset, method), value in list(found.items()):
            if t == source:
                found[(table, dataset, method)] = value
    return found


def _not_learned(
    dice: Mapping[tuple[str, str, str], float], table: str, dataset: str, methods: list[str]
) -> list[str]:
    """The methods whose mean Dice is below :data:`LEARNED_DICE` (missing Dice: not judged)."""
    return [
        f"{method} {dice[(table, dataset, method)]:.3f}"
        for method in methods
        if dice.get((table, dataset, method), math.inf) < LEARNED_DICE
    ]


def _left_out(unlearned: list[str]) -> str:
    """Why some compared models are not judged ("" when every one learned)."""
    if not unlearned:
        return ""
    return f"left out, did not learn (mean Dice < {LEARNED_DICE:g}): {', '.join(unlearned)}"


def _pair_significant(comparison: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """Whether each DMR row's pair differs significantly: our marker on the DMR cell, or on its
    baseline's (Table IV prints the pair's marker once, on the baseline)."""
    key = [k for k in KEY if k != "method"]
    bases = comparison.assign(base_marker=comparison["reproduced_marker"])[
        [*key, "method", "base_marker"]
    ].rename(columns={"method": "base"})
    pairs = rows.assign(base=rows["method"].map(base_of)).merge(
        bases, on=[*key, "base"], how="left"
    )
    marker = pairs["reproduced_marker"].fillna("") + pairs["base_marker"].fillna("")
    return pd.Series((marker != "").to_numpy(), index=rows.index)


def _direction_status(significant_for: int, significant_against: int) -> str:
    if significant_for and not significant_against:
        return HOLDS
    if significant_against and not significant_for:
        return CONTRADICTED
    return INCONCLUSIVE


def direction_claims(comparison: pd.DataFrame) -> list[Claim]:
    """ "DMR better than its baseline" for each of Tables II(a), II(b), IV, VI(a), VI(b)."""
    dice = learned_dice(comparison)
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
        unlearned: set[str] = set()
        keep = []
        for _, row in ran.iterrows():
            pair = [row["method"], str(base_of(row["method"]))]
            failed = _not_learned(dice, table, row["dataset"], pair)
            unlearned.update(f"{row['dataset']} {f}" for f in failed)
            keep.append(not failed)
        judged = ran[keep]
        left_out = f"; {_left_out(sorted(unlearned))}" if unlearned else ""
        if judged.empty:
            claims.append(Claim(name, NOT_MEANINGFUL, f"{len(ran)} cells ran{left_out}; {paper}"))
            continue
        pooled = _pair_significant(comparison, judged)
        replicated = judged["reproduced_replicated"].map(replicated_fraction) == 1.0
        significant = pooled & replicated
        better = judged["reproduced_direction"] == "better"
        worse = judged["reproduced_direction"] == "worse"
        significant_for = int((better & significant).sum())
        significant_against = int((worse & significant).sum())
        unreplicated_for = int((better & pooled & ~replicated).sum())
        unreplicated_against = int((worse & pooled & ~replicated).sum())
        agree = int((judged["direction_verdict"] == "direction reproduced").sum())
        phantom = " (phantom data)" if judged["phantom"].any() else ""
        detail = (
            f"this run{phantom}: DMR significantly better in {significant_for} of "
            f"{len(judged)} cells, significantly worse in {significant_against}, in every "
            f"fold's network (significant pooled but not in every fold's network: "
            f"{unreplicated_for} better, {unreplicated_against} worse); better in "
            f"{int(better.sum())}, worse in {int(worse.sum())} by direction alone; {paper}; "
            f"same direction as the paper in {agree} of {len(judged)}{left_out}"
        )
        claims.append(Claim(name, _direction_status(significant_for, significant_against), detail))
    return claims


def _figure_unlearned(group: pd.DataFrame) -> list[str]:
    return [
        f"{row['model']} {row['mean']:.3f}"
        for _, row in group.iterrows()
        if row["mean"] < LEARNED_DICE
    ]


def _figure_claim(
    name: str, status: str, details: list[str], unlearned: list[str], nothing_ran: str
) -> Claim:
    """A figure's claim: ``status`` with its details when something was judged, else `not
    meaningful` (every pair left out) or `not run` (``nothing_ran`` says why)."""
    left_out = _left_out(unlearned)
    if not details:
        return (
            Claim(name, NOT_MEANINGFUL, left_out)
            if unlearned
            else Claim(name, NOT_RUN, nothing_ran)
        )
    return Claim(name, status, "; ".join([*details, left_out] if left_out else details))


def weighting_claim(fig6: pd.DataFrame | None) -> Claim:
    """Fig. 6: the learned (``{arch}-dmr``) vs fixed-weight (``{arch}-dmr_fixed``) models."""
    name = "Learned better than fixed task weights (Fig. 6)"
    if fig6 is None:
        return Claim(name, NOT_RUN, "no Fig. 6 data (results/figures/fig6.csv)")
    above, below, details, unlearned = 0, 0, [], []
    for _, fixed in fig6[fig6["model"].str.endswith("-dmr_fixed")].iterrows():
        learned = fig6[
            (fig6["dataset"] == fixed["dataset"]) & (fig6["model"] == f"{fixed['arch']}-dmr")
        ]
        if learned.empty:
            continue
        pair = pd.concat([learned.iloc[:1], fixed.to_frame().T])
        failed = _figure_unlearned(pair)
        if failed:
            unlearned += [f"{fixed['dataset']} {f}" for f in failed]
            continue
        point = learned.iloc[0]
        if point["ci_low"] > fixed["ci_high"]:
            above, relation = above + 1, "CI above"
        elif point["ci_high"] < fixed["ci_low"]:
            below, relation = below + 1, "CI below"
        else:
            relation = "CIs overlap"
        details.append(f"{fixed['dataset']}: {_point(point)} vs {_point(fixed)}: {relation}")
    if above == len(details):
        status = HOLDS
    elif below and not above:
        status = CONTRADICTED
    else:
        status = INCONCLUSIVE
    return _figure_claim(
        name, status, details, unlearned, "Fig. 6 data hold no learned/fixed pair of one network"
    )


def threshold_claim(fig7: pd.DataFrame | None) -> Claim:
    """Fig. 7: the models of one network trained with different thresholds T."""
    name = "Dice insensitive to the distance-map threshold T (Fig. 7)"
    if fig7 is None:
        return Claim(name, NOT_RUN, "no Fig. 7 data (results/figures/fig7.csv)")
    verdicts, details, unlearned = [], [], []
    for (dataset, _), group in fig7.groupby(["dataset", "arch"], sort=True):
        if len(group) < 2:
            continue
        failed = _figure_unlearned(group)
        if failed:
            unlearned += [f"{dataset} {f}" for f in failed]
            continue
        shared = group["ci_low"].max() <= group["ci_high"].min()
        verdicts.append(shared)
        points = ", ".join(_point(row) for _, row in group.iterrows())
        details.append(f"{dataset}: {points}: CIs {'share' if shared else 'do not share'} a value")
    if all(verdicts):
        status = HOLDS
    elif not any(verdicts):
        status = CONTRADICTED
    else:
        status = INCONCLUSIVE
    return _figure_claim(
        name, status, details, unlearned, "Fig. 7 data hold fewer than two thresholds per network"
    )
