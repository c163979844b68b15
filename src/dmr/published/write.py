"""Build and write ``paper_vs_reproduced.{csv,md,json}`` from a run's cells and figure data."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from dmr.io import write_csv, write_json, write_text
from dmr.published.cells import read_cells
from dmr.published.claims import (
    direction_claims,
    read_figure_csv,
    threshold_claim,
    weighting_claim,
)
from dmr.published.compare import dataset_roles, paper_vs_reproduced, unmatched_cells
from dmr.published.load import load_published
from dmr.published.markdown import render_markdown
from dmr.published.summary import comparison_summary


def write_paper_vs_reproduced(
    cells_files: Iterable[str | os.PathLike[str]],
    out_prefix: str | os.PathLike[str],
    *,
    fig6: str | os.PathLike[str] | None = None,
    fig7: str | os.PathLike[str] | None = None,
    phantom_datasets: Iterable[str] = (),
    roles: Mapping[str, str] | None = None,
    published: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Write ``PREFIX.csv`` (one row per published number), ``PREFIX.md`` and ``PREFIX.json``
    (verdict counts per table and the claims, what the HTML report shows); return the rows.

    Missing cells or figure files are allowed (a config that did not run that table or
    figure): their numbers and claims become ``not run``, and the Markdown lists them.
    """
    cells_files = [Path(p) for p in cells_files]
    roles = dict(roles) if roles is not None else dataset_roles()
    phantoms = sorted(set(phantom_datasets))
    published = load_published() if published is None else published
    cells, missing = read_cells(cells_files)
    comparison = paper_vs_reproduced(published, cells, phantoms, roles)
    claims = [
        *direction_claims(comparison),
        weighting_claim(read_figure_csv(fig6)),
        threshold_claim(read_figure_csv(fig7)),
    ]
    sources = {
        "cells_files": [p for p in cells_files if p not in missing],
        "missing_files": missing,
        "phantom_datasets": phantoms,
    }
    markdown = render_markdown(
        comparison, claims, **sources, unmatched=unmatched_cells(published, cells, roles)
    )
    prefix = Path(out_prefix)
    write_csv(prefix.parent / f"{prefix.name}.csv", comparison)
    write_text(prefix.parent / f"{prefix.name}.md", markdown)
    write_json(
        prefix.parent / f"{prefix.name}.json", comparison_summary(comparison, claims, **sources)
    )
    return comparison
