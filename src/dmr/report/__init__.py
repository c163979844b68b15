"""The one-page HTML report of a run (``results/report.html``, ``dmr report``).

:mod:`~dmr.report.context` reads the run's files into sections, :mod:`~dmr.report.provenance`
collects where the numbers come from, :mod:`~dmr.report.captions` reads the ``snakemake
--report`` captions, and :mod:`~dmr.report.page` renders the Jinja2 template
(``templates/report.html.j2``) into one self-contained file.
"""

from dmr.report.context import ReportContext, build_context
from dmr.report.page import render_report, write_report
from dmr.report.provenance import write_config

__all__ = ["ReportContext", "build_context", "render_report", "write_config", "write_report"]
