"""``paper_vs_reproduced.md``: the verdict rules, a summary per table, the paper's claims in this
run, then every published number beside ours, grouped by table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dmr.published.claims import CLAIM_RULES, CLAIM_STATUSES, TABLE_TITLES, Claim
from dmr.published.compare import VERDICT_RULES, VERDICTS
from dmr.published.summary import verdict_counts
from dmr.published.vocabulary import KEY, TABLES, printed_decimals

PAPER = (
    "Dangi, Linte & Yaniv, *A Distance Map Regularized CNN for Cardiac Cine MR Image Segmentation*"
)


def _escape(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")


def _pipe_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(_escape(c) for c in row) + " |" for row in rows)
    return lines


def _number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if math.isfinite(value) else "–"


def _summary(comparison: pd.DataFrame) -> list[str]:
    counts = verdict_counts(comparison)
    rows = [
        [TABLE_TITLES[table], int(row.sum()), *row.tolist()] for table, row in counts.iterrows()
    ]
    rows.append(["all", int(counts.to_numpy().sum()), *counts.sum().tolist()])
    return _pipe_table(["table", "numbers", *VERDICTS], rows)


def _direction_text(row: pd.Series) -> str:
    if not row["published_direction"]:
        return ""
    ours = row["reproduced_direction"] or "–"
    text = f"ours {ours}, paper {row['published_direction']}"
    if row["marker_verdict"] and row["marker_verdict"] != "not run":
        text += f"; {row['marker_verdict']}"
    return text


def _table_section(rows: pd.DataFrame) -> list[str]:
    body = []
    for _, row in rows.iterrows():
        decimals = printed_decimals(row["printed"]) + 1
        ci = (
            f"[{_number(row['ci_low'], decimals)}, {_number(row['ci_high'], decimals)}]"
            if math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])
            else ""
        )
        body.append(
            [
                *(row[name] for name in KEY[1:]),
                row["printed"] + row["published_marker"],
                _number(row["reproduced"], decimals) + row["reproduced_marker"],
                ci,
                _number(row["difference"], decimals),
                row["verdict"],
                _direction_text(row),
            ]
        )
    header = [
        *KEY[1:],
        "published",
        "reproduced",
        "95 % CI",
        "difference",
        "verdict",
        "DMR vs base",
    ]
    return _pipe_table(header, body)


def render_markdown(
    comparison: pd.DataFrame,
    claims: Sequence[Claim],
    *,
    cells_files: Sequence[Path] = (),
    missing_files: Sequence[Path] = (),
    phantom_datasets: Sequence[str] = (),
    unmatched: pd.DataFrame | None = None,
) -> str:
    """The whole Markdown page (see the module docstring)."""
    phantoms = ", ".join(sorted(phantom_datasets)) or "none (real data)"
    lines = [
        "# Paper vs reproduced",
        "",
        f"Every number printed in {PAPER} (Tables I–VI and the figures its text quotes, "
        f"{len(comparison)} numbers), beside this run's. Markers: `*` / `**` as printed "
        "(Tables II, IV: p < 0.05 / 0.005; Table VI: p < 0.01 / 0.001).",
        "",
        f"- Reproduced cells read from: {', '.join(f'`{p}`' for p in cells_files) or 'none'}.",
        f"- Not found (their numbers count as `not run`): "
        f"{', '.join(f'`{p}`' for p in missing_files) or 'none'}.",
        f"- Phantom datasets: {phantoms}.",
        "",
        "## Verdict rules",
        "",
        *(f"{i}. {rule}" for i, rule in enumerate(VERDICT_RULES, start=1)),
        "",
        "## Claim rules",
        "",
        f"Each claim is one of {', '.join(f'`{s}`' for s in CLAIM_STATUSES)}.",
        "",
        *(f"- {rule}" for rule in CLAIM_RULES),
        "",
        "## Summary",
        "",
        *_summary(comparison),
        "",
        "## The paper's claims in this run",
        "",
        *(f"- **{claim.name}**: {claim.status}. {_escape(claim.detail)}" for claim in claims),
        "",
        '(How a claim is decided: "Claim rules" above.)',
    ]
    for table in TABLES:
        rows = comparison[comparison["table"] == table]
        if rows.empty:
            continue
        lines += ["", f"## {TABLE_TITLES[table]}", "", *_table_section(rows)]
    if unmatched is not None and not unmatched.empty:
        lines += [
            "",
            "## Reproduced cells that match no published number",
            "",
            "Their key is outside the paper's (a different vocabulary would show here).",
            "",
            *_pipe_table(
                [*KEY, "value", "source"],
                unmatched[[*KEY, "value", "source"]].astype(str).to_numpy().tolist(),
            ),
        ]
    return "\n".join(lines) + "\n"
