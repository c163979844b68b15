"""Render the report's context with the page template and write ``results/report.html``."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import jinja2
import yaml
from markupsafe import Markup

from dmr.io import write_text
from dmr.report.context import ReportContext

TEMPLATE = "report.html.j2"


def _as_yaml(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _trusted(html: str) -> Markup:
    """Mark a table fragment safe: dmr.tables.to_html wrote it with every text escaped."""
    return Markup(html)


@cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: autoescaped, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dmr.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["as_yaml"] = _as_yaml
    env.filters["trusted_table"] = _trusted
    return env


def render_report(context: ReportContext) -> str:
    """The whole self-contained page (CSS inline, images as data URIs, no script)."""
    return environment().get_template(TEMPLATE).render(report=context)


def write_report(context: ReportContext, path: str | os.PathLike[str]) -> Path:
    """Render and write the page atomically; return its path."""
    path = Path(path)
    write_text(path, render_report(context))
    return path
