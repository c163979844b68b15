"""Captions of ``snakemake --report`` (``workflow/report/<name>.rst``) for the HTML report.

The same files caption both reports, so they cannot drift apart. They are Jinja2 templates
(Snakemake renders ``{{ snakemake.config... }}`` in them) holding light reStructuredText; we
render the Jinja2 part with the run's config and understand only what the captions use:
paragraphs, ``*emphasis*``, ``**strong**`` and ````literal````. The result is a list of
paragraphs of (kind, text) spans; the page template writes (and escapes) the HTML.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dmr.errors import InputError

#: One paragraph: (kind, text) spans, kind in "text", "em", "strong", "literal".
Paragraph = list[tuple[str, str]]

# reStructuredText inline markup: the start string is followed, and the end string preceded,
# by a non-space, so "* p < 0.05, ** p < 0.005" stays text.
_INLINE = re.compile(
    r"``(?P<literal>\S(?:.*?\S)?)``"
    r"|\*\*(?P<strong>[^*\s](?:[^*]*[^*\s])?)\*\*"
    r"|\*(?P<em>[^*\s](?:[^*]*[^*\s])?)\*"
)


def inline_spans(text: str) -> Paragraph:
    """``text`` cut into plain, emphasised, strong and literal spans."""
    spans: Paragraph = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            spans.append(("text", text[position : match.start()]))
        kind = match.lastgroup or "text"
        spans.append((kind, match.group(kind)))
        position = match.end()
    if position < len(text):
        spans.append(("text", text[position:]))
    return spans


def rst_paragraphs(text: str) -> list[Paragraph]:
    """Paragraphs (separated by blank lines, lines joined by a space) of inline spans."""
    blocks = re.split(r"\n\s*\n", text.strip())
    return [inline_spans(" ".join(line.strip() for line in b.splitlines())) for b in blocks if b]


def render_caption(
    path: str | os.PathLike[str],
    config: dict[str, Any],
    wildcards: dict[str, str] | None = None,
) -> list[Paragraph]:
    """A caption file rendered as ``snakemake --report`` renders it (Jinja2 with
    ``snakemake.config`` and, for a rule with wildcards, ``snakemake.wildcards``), then cut into
    paragraphs. A caption shared by several outputs (the dataset overviews) tells them apart by
    their wildcards."""
    import jinja2

    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the caption ({exc})") from exc
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        snakemake = SimpleNamespace(config=config)
        if wildcards is not None:
            snakemake.wildcards = SimpleNamespace(**wildcards)
        text = environment.from_string(source).render(snakemake=snakemake)
    except jinja2.TemplateError as exc:
        raise InputError(f"{path}: caption does not render with the run's config ({exc})") from exc
    return rst_paragraphs(text)
