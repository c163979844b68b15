"""The report's context: every section of ``results/report.html`` built from the run's files.

Sections are named by their file's stem (``table6a``, ``fig5``, ``phantoms_acdc``), which is
also their HTML ``id``, so any of them can be linked. Nothing here writes HTML: the table
fragments come escaped from :func:`dmr.tables.render.to_html`, and everything else is plain
data that the Jinja2 template escapes.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dmr.errors import InputError
from dmr.report.captions import Paragraph, render_caption
from dmr.report.provenance import Provenance, collect_provenance, read_config
from dmr.report.scope import RunScope, run_scope

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "VI"}
_TABLE = re.compile(r"table(?P<number>\d)(?P<part>[a-z]?)")
_FIGURE = re.compile(r"fig(?P<supplement>S?)(?P<number>\d+)(?P<part>[a-z]?)")
_DATASET_FIGURE = re.compile(r"(?P<kind>phantoms|data)_(?P<dataset>.+)")
#: Caption of the dataset overview figures (rule figure_dataset).
DATASET_CAPTION = "dataset_figure"
#: Figs. 4 and 5 of a dataset the paper lacks (rules figure_regions, figure_groups).
_OWN_FIGURE = re.compile(r"(?P<kind>regions|groups)_(?P<dataset>.+)")
#: Their shared captions and titles, by kind.
OWN_CAPTIONS = {"regions": "dataset_regions", "groups": "dataset_groups"}
_OWN_TITLES = {"regions": "{}: Dice per slice region", "groups": "{}: Dice per group"}
#: Caption of the published-vs-reproduced summary and of the whole workflow.
SUMMARY_CAPTION = "paper_vs_reproduced"
WORKFLOW_CAPTION = "workflow"


@dataclass(frozen=True)
class TableSection:
    """One paper table: its HTML fragment (escaped when written) and the files it came from."""

    id: str
    title: str
    html: str
    source: str


@dataclass(frozen=True)
class FigureSection:
    """One figure: the PNG as a data URI, so the page needs no other file."""

    id: str
    title: str
    data_uri: str
    caption: list[Paragraph]
    source: str


@dataclass(frozen=True)
class DataCheck:
    """What ``dmr check-data`` found in one dataset, and its overview figure if drawn."""

    id: str
    dataset: str
    format: str
    root: str
    ok: bool
    n_cases: int
    splits: dict[str, int]
    #: Cases per clinical group; empty for data without groups (LVSC), so no row is shown.
    groups: dict[str, int]
    spacing: dict[str, str]
    n_files: int
    problems: list[str]
    source: str
    figure: FigureSection | None = None


@dataclass(frozen=True)
class Summary:
    """The published-vs-reproduced summary (``paper_vs_reproduced.json``)."""

    caption: list[Paragraph]
    verdicts: list[str]
    tables: list[dict[str, Any]]
    total: dict[str, int]
    numbers: int
    claims: list[dict[str, str]]
    verdict_rules: list[str]
    claim_rules: list[str]
    phantom_datasets: list[str]
    missing_files: list[str]
    source: str


@dataclass(frozen=True)
class ReportContext:
    """Everything the page template shows, in page order."""

    title: str
    intro: list[Paragraph]
    #: The config file(s) the run was started with, as given to Snakemake.
    config_files: list[str]
    #: Paper, miniature or smoke run, and why (the banner).
    scope: RunScope
    provenance: Provenance
    summary: Summary
    tables: list[TableSection]
    figures: list[FigureSection]
    data_checks: list[DataCheck]


# --------------------------------------------------------------------------- names and order
#: Titles of the tables of data the paper lacks (dmr.tables.generic), by stem prefix.
_GENERIC_TITLES = {
    "results_": "Results on {}",
    "lovo_": "Leave-one-group-out on {}",
    "cross_": "Across datasets: {}",
}


def table_title(stem: str) -> str:
    """``table2a`` -> ``Table II(a)``, ``results_mnms`` -> ``Results on mnms``,
    ``cross_a_to_b`` -> ``Across datasets: a → b``; another stem is its own title."""
    for prefix, title in _GENERIC_TITLES.items():
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return title.format(stem[len(prefix) :].replace("_to_", " → "))
    match = _TABLE.fullmatch(stem)
    if not match or match["number"] not in _ROMAN:
        return stem
    part = f"({match['part']})" if match["part"] else ""
    return f"Table {_ROMAN[match['number']]}{part}"


def figure_title(stem: str) -> str:
    """``fig4a`` -> ``Fig. 4(a)``, ``figS2`` -> ``Fig. S2``, ``phantoms_acdc`` ->
    ``acdc: phantom overview``, ``groups_mnms`` -> ``mnms: Dice per group``."""
    dataset = _DATASET_FIGURE.fullmatch(stem)
    if dataset:
        kind = "phantom" if dataset["kind"] == "phantoms" else "data"
        return f"{dataset['dataset']}: {kind} overview"
    own = _OWN_FIGURE.fullmatch(stem)
    if own:
        return _OWN_TITLES[own["kind"]].format(own["dataset"])
    match = _FIGURE.fullmatch(stem)
    if not match:
        return stem
    part = f"({match['part']})" if match["part"] else ""
    return f"Fig. {match['supplement']}{match['number']}{part}"


def _figure_order(stem: str) -> tuple[int, int, str, str]:
    """The paper's order: Figs. 1-7, then S1-S5, then each other dataset's per-region and
    per-group figures, then anything else by name."""
    own = _OWN_FIGURE.fullmatch(stem)
    if own:
        return (2, 0, own["dataset"], str(list(OWN_CAPTIONS).index(own["kind"])))
    match = _FIGURE.fullmatch(stem)
    if not match:
        return (3, 0, "", stem)
    return (int(bool(match["supplement"])), int(match["number"]), match["part"], stem)


def _unique_stems(paths: Sequence[Path], what: str) -> None:
    stems = [p.stem for p in paths]
    duplicated = sorted({s for s in stems if stems.count(s) > 1})
    if duplicated:
        raise InputError(f"{what}: several files named {duplicated}; each section needs its own id")


# --------------------------------------------------------------------------- sections
def read_table(path: Path) -> TableSection:
    """A table's HTML fragment (``results/tables/<name>.html``, written by ``write_table``)."""
    try:
        html = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the table fragment ({exc})") from exc
    if html.count("<table") != 1 or "</table>" not in html:
        raise InputError(f"{path}: expected one <table> fragment written by dmr.tables.to_html")
    return TableSection(id=path.stem, title=table_title(path.stem), html=html, source=str(path))


def png_data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file (refused when it is not a PNG)."""
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the figure ({exc})") from exc
    if not payload.startswith(_PNG_SIGNATURE):
        raise InputError(f"{path}: not a PNG file")
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def caption_path(stem: str, captions: Path) -> Path:
    """``<captions>/<stem>.rst``; the dataset overviews share ``dataset_figure.rst``, the
    per-region and per-group figures ``dataset_regions.rst`` and ``dataset_groups.rst``."""
    own = _OWN_FIGURE.fullmatch(stem)
    if _DATASET_FIGURE.fullmatch(stem):
        name = DATASET_CAPTION
    elif own:
        name = OWN_CAPTIONS[own["kind"]]
    else:
        name = stem
    path = captions / f"{name}.rst"
    if not path.is_file():
        raise InputError(f"{path}: no caption for {stem!r} (workflow/report/<name>.rst)")
    return path


def caption_wildcards(stem: str) -> dict[str, str] | None:
    """The wildcards of rule figure_dataset (``kind``, ``dataset``) for an overview's stem, and
    of rules figure_regions/figure_groups (``dataset``) for theirs, so a shared caption describes
    that dataset; None for a figure of a rule without wildcards."""
    match = _DATASET_FIGURE.fullmatch(stem)
    if match:
        return {"kind": match["kind"], "dataset": match["dataset"]}
    own = _OWN_FIGURE.fullmatch(stem)
    return {"dataset": own["dataset"]} if own else None


def read_figure(path: Path, captions: Path, config: dict[str, Any]) -> FigureSection:
    """A figure's PNG embedded, with its ``snakemake --report`` caption."""
    caption = caption_path(path.stem, captions)
    return FigureSection(
        id=path.stem,
        title=figure_title(path.stem),
        data_uri=png_data_uri(path),
        caption=render_caption(caption, config, caption_wildcards(path.stem)),
        source=str(path),
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable {what} ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object ({what})")
    return data


def read_data_check(path: Path, figure: FigureSection | None = None) -> DataCheck:
    """``results/<dataset>/data_check.json`` (``dmr check-data -o``), summarised."""
    check = _read_json(path, "data check")
    required = ("format", "root", "ok", "problems", "cases", "groups", "spacing_ranges")
    missing = [key for key in required if key not in check]
    if missing:
        raise InputError(f"{path}: data check lacks key(s) {missing} (written by dmr check-data?)")
    dataset = path.parent.name
    splits: dict[str, int] = {}
    for case in check["cases"]:
        splits[case.get("split", "unknown")] = splits.get(case.get("split", "unknown"), 0) + 1
    spacing = {
        axis: ("n/a" if r is None else f"{r[0]:g}–{r[1]:g}")
        for axis, r in check["spacing_ranges"].items()
    }
    groups = {str(g): int(n) for g, n in dict(check["groups"]).items()}
    if set(groups) == {"unknown"}:
        groups = {}  # written before checks left out a dataset without groups (LVSC)
    return DataCheck(
        id=f"data-{dataset}",
        dataset=dataset,
        format=str(check["format"]),
        root=str(check["root"]),
        ok=bool(check["ok"]),
        n_cases=len(check["cases"]),
        splits=dict(sorted(splits.items())),
        groups=groups,
        spacing=spacing,
        n_files=len(check.get("manifest", {})),
        problems=[str(p) for p in check["problems"]],
        source=str(path),
        figure=figure,
    )


def read_summary(path: Path, captions: Path, config: dict[str, Any]) -> Summary:
    """``paper_vs_reproduced.json`` (``dmr paper-vs-reproduced``); verdicts no number got are
    left out of the counts table (they would be columns of zeros)."""
    data = _read_json(path, "published-vs-reproduced summary")
    keys = ("numbers", "verdicts", "tables", "total", "claims", "verdict_rules", "claim_rules")
    missing = [key for key in keys if key not in data]
    if missing:
        raise InputError(
            f"{path}: summary lacks key(s) {missing} (written by dmr paper-vs-reproduced?)"
        )
    verdicts = [v for v in data["verdicts"] if data["total"].get(v, 0)]
    return Summary(
        caption=render_caption(captions / f"{SUMMARY_CAPTION}.rst", config),
        verdicts=verdicts,
        tables=data["tables"],
        total=data["total"],
        numbers=int(data["numbers"]),
        claims=data["claims"],
        verdict_rules=data["verdict_rules"],
        claim_rules=data["claim_rules"],
        phantom_datasets=data.get("phantom_datasets", []),
        missing_files=data.get("missing_files", []),
        source=str(path),
    )


def build_context(
    *,
    config_path: str | os.PathLike[str],
    config_files: Sequence[str] = (),
    tables: Sequence[str | os.PathLike[str]],
    figures: Sequence[str | os.PathLike[str]],
    summary: str | os.PathLike[str],
    data_checks: Sequence[str | os.PathLike[str]],
    histories: Sequence[str | os.PathLike[str]],
    captions: str | os.PathLike[str],
    workflow_dir: str | os.PathLike[str],
    now: datetime | None = None,
) -> ReportContext:
    """Read every input of the report; a bad or missing one is an InputError naming it."""
    config = read_config(config_path)
    captions = Path(captions)
    # The paper's tables first (table1 ... table6b), then those of data the paper lacks.
    table_paths = sorted(
        (Path(p) for p in tables), key=lambda p: (_TABLE.fullmatch(p.stem) is None, p.stem)
    )
    figure_paths = [Path(p) for p in figures]
    _unique_stems(table_paths, "--tables")
    _unique_stems(figure_paths, "--figures")
    sections = [read_figure(p, captions, config) for p in figure_paths]
    overviews = {}
    for section in sections:
        match = _DATASET_FIGURE.fullmatch(section.id)
        if match:
            overviews[match["dataset"]] = section
    checks = [
        read_data_check(Path(p), overviews.pop(Path(p).parent.name, None)) for p in data_checks
    ]
    paper_figures = [s for s in sections if not _DATASET_FIGURE.fullmatch(s.id)]
    # An overview of a dataset without a data check still belongs on the page.
    paper_figures += overviews.values()
    return ReportContext(
        title="dmr-cardiac: distance map regularized CNNs, reproduced",
        intro=render_caption(captions / f"{WORKFLOW_CAPTION}.rst", config),
        config_files=[str(p) for p in config_files],
        scope=run_scope(config),
        provenance=collect_provenance(config, workflow_dir, histories, now=now),
        summary=read_summary(Path(summary), captions, config),
        tables=[read_table(p) for p in table_paths],
        figures=sorted(paper_figures, key=lambda s: _figure_order(s.id)),
        data_checks=checks,
    )
