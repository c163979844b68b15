"""Writing a figure: PNG + PDF (reproducible bytes) and, for data figures, the CSV it plots.

Both images are written through :func:`dmr.io.atomic_path`, so a killed job leaves the complete
file or none. Matplotlib stamps a creation date into PDFs and its version into both formats;
dropping those makes the same figure give the same bytes run after run.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from dmr.errors import InputError
from dmr.figures.style import DPI
from dmr.io import atomic_path, write_csv

#: Metadata matplotlib would otherwise fill with the date (PDF) and its version (both).
PDF_METADATA: dict[str, str | None] = {"CreationDate": None, "Producer": None, "Creator": None}
PNG_METADATA: dict[str, str | None] = {"Software": None}


def figure_paths(prefix: str | Path) -> dict[str, Path]:
    """``PREFIX.png``, ``PREFIX.pdf`` and ``PREFIX.csv`` of one figure."""
    prefix = Path(prefix)
    return {ext: prefix.with_name(f"{prefix.name}.{ext}") for ext in ("png", "pdf", "csv")}


def save_figure(fig: Figure, prefix: str | Path, table: pd.DataFrame | None = None) -> list[Path]:
    """Write ``fig`` as PNG and PDF (and ``table`` as CSV) beside ``prefix``; close ``fig``.

    Returns the paths written. The CSV holds exactly the numbers the figure plots.
    """
    paths = figure_paths(prefix)
    written = []
    try:
        for ext, metadata in (("png", PNG_METADATA), ("pdf", PDF_METADATA)):
            with atomic_path(paths[ext]) as tmp:
                fig.savefig(tmp, format=ext, dpi=DPI, metadata=metadata)
            written.append(paths[ext])
    finally:
        plt.close(fig)
    if table is not None:
        write_csv(paths["csv"], table)
        written.append(paths["csv"])
    return written


def read_tables(paths: list[Path] | tuple[Path, ...], what: str) -> pd.DataFrame:
    """Concatenate CSV files; InputError naming the file that is missing or unreadable."""
    if not paths:
        raise InputError(f"no {what} file given")
    frames = []
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError(f"{path}: {what} file not found")
        try:
            frames.append(pd.read_csv(path))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: unreadable {what} CSV ({exc})") from exc
    return pd.concat(frames, ignore_index=True)
