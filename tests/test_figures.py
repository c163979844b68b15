"""The dataset overview figure, drawn from tiny phantom datasets read through the readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dmr.datasets.phantom import generate_dataset
from dmr.figures import DPI, LVSC_CASES_SHOWN, PANEL_INCHES, plot_dataset_overview

TINY = {
    "spacing_mm": [3.6, 4.0],
    "matrix_x": [40, 40],
    "matrix_y": [40, 40],
    "n_slices": [4, 5],
    "n_frames": [4, 5],
}


@pytest.mark.parametrize(
    ("fmt", "n_cases", "columns"), [("acdc", 5, 5), ("lvsc", 5, LVSC_CASES_SHOWN)]
)
def test_overview_png_has_one_column_per_group_or_case(
    fmt: str, n_cases: int, columns: int, tmp_path: Path
) -> None:
    root = tmp_path / fmt
    generate_dataset(fmt, root, n_cases=n_cases, seed=0, domain=TINY)
    out = tmp_path / "figures" / f"phantoms_{fmt}.png"
    plot_dataset_overview(fmt, root, out)
    with Image.open(out) as png:
        width, height = png.size
        pixels = np.asarray(png.convert("L"))
    assert width == round(PANEL_INCHES * columns * DPI)
    assert height == round((PANEL_INCHES * 2 + 0.5) * DPI)
    assert pixels.std() > 20  # images were drawn, not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left behind


def test_overview_title_says_groups_only_where_the_data_have_them(tmp_path: Path) -> None:
    from dmr.datasets import read_dataset
    from dmr.figures.overview import _overview_cases, overview_title

    titles = {}
    for fmt in ("acdc", "lvsc"):
        generate_dataset(fmt, tmp_path / fmt, n_cases=5, seed=0, domain=TINY)
        cases = _overview_cases(fmt, read_dataset(fmt, tmp_path / fmt))
        titles[fmt] = overview_title(fmt, cases)
    assert "one study per clinical group" in titles["acdc"]
    assert "clinical group" not in titles["lvsc"] and "no groups" in titles["lvsc"]
