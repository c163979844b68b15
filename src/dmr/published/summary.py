"""The summary of a published-vs-reproduced comparison: verdict counts per table and the paper's
claims, as one JSON-able object (``paper_vs_reproduced.json``).

The Markdown page and the HTML report both show this summary; computing it once here keeps the
two from disagreeing, and the report need not parse Markdown or re-derive the claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from dmr.published.claims import CLAIM_RULES, TABLE_TITLES, Claim
from dmr.published.compare import VERDICT_RULES, VERDICTS
from dmr.published.vocabulary import TABLES


def verdict_counts(comparison: pd.DataFrame) -> pd.DataFrame:
    """Numbers per table (rows, in print order) and verdict (columns, :data:`VERDICTS`)."""
    counts = pd.crosstab(comparison["table"], comparison["verdict"])
    counts = counts.reindex(index=[t for t in TABLES if t in counts.index], columns=VERDICTS)
    return counts.fillna(0).astype(int)


def comparison_summary(
    comparison: pd.DataFrame,
    claims: Sequence[Claim],
    *,
    cells_files: Sequence[Path] = (),
    missing_files: Sequence[Path] = (),
    phantom_datasets: Sequence[str] = (),
) -> dict[str, Any]:
    """Counts per table and verdict (with totals), the claims, and how both were decided."""
    counts = verdict_counts(comparison)
    tables = [
        {
            "table": table,
            "title": TABLE_TITLES[table],
            "numbers": int(row.sum()),
            "verdicts": {verdict: int(n) for verdict, n in row.items()},
        }
        for table, row in counts.iterrows()
    ]
    return {
        "numbers": len(comparison),
        "verdicts": list(VERDICTS),
        "tables": tables,
        "total": {verdict: int(n) for verdict, n in counts.sum().items()},
        "claims": [asdict(claim) for claim in claims],
        "verdict_rules": list(VERDICT_RULES),
        "claim_rules": list(CLAIM_RULES),
        "cells_files": [str(p) for p in cells_files],
        "missing_files": [str(p) for p in missing_files],
        "phantom_datasets": sorted(phantom_datasets),
    }
