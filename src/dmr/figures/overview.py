"""The dataset overview figure (``dmr figure-phantoms``): ED/ES slices with label overlays.

Every figure reads its data through the same readers the pipeline uses, so a figure shows what
the models actually see, not what a generator intended to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.patches import Patch

from dmr.datasets import Case, read_dataset
from dmr.errors import DatasetError
from dmr.figures.style import LABEL_COLOURS, LABEL_NAMES
from dmr.io import atomic_path

OVERLAY_ALPHA = 0.3
PANEL_INCHES = 2.6
DPI = 110
#: LVSC has no groups; show this many studies.
LVSC_CASES_SHOWN = 4


def _overview_cases(fmt: str, cases: list[Case]) -> list[Case]:
    """One labelled case per group (in order of first appearance), or the first few studies."""
    labelled = [case for case in cases if case.labelled_frames]
    if not labelled:
        raise DatasetError(f"no labelled {fmt} case to show in the overview")
    if fmt == "lvsc" or all(case.group is None for case in labelled):
        return labelled[:LVSC_CASES_SHOWN]
    chosen: dict[str, Case] = {}
    for case in labelled:
        chosen.setdefault(str(case.group), case)
    return list(chosen.values())


def overview_title(fmt: str, cases: list[Case]) -> str:
    """The figure's title, from what the cases shown have: one per group, or just studies."""
    grouped = any(case.group is not None for case in cases)
    shown = "one study per clinical group" if grouped else f"{len(cases)} studies (no groups)"
    return f"{fmt.upper()}: {shown}, mid-ventricular slices at ED (top) and ES (bottom)"


def _mid_ventricular_index(label: np.ndarray) -> int:
    """Middle slice among those holding any structure (z, y, x label array)."""
    occupied = np.flatnonzero(label.reshape(label.shape[0], -1).any(axis=1))
    if occupied.size == 0:
        return label.shape[0] // 2
    return int(occupied[occupied.size // 2])


def _crop_window(label2d: np.ndarray, spacing: tuple[float, float], half_mm: float = 70.0):
    """Row/column slices of a square window (``2*half_mm`` wide) centred on the structures."""
    rows, cols = np.nonzero(label2d)
    ny, nx = label2d.shape
    cy, cx = (rows.mean(), cols.mean()) if rows.size else (ny / 2.0, nx / 2.0)
    hy, hx = half_mm / spacing[1], half_mm / spacing[0]
    r0, r1 = int(max(cy - hy, 0)), int(min(cy + hy, ny))
    c0, c1 = int(max(cx - hx, 0)), int(min(cx + hx, nx))
    return slice(r0, r1), slice(c0, c1)


def _overlay_rgba(label2d: np.ndarray) -> np.ndarray:
    rgba = np.zeros((*label2d.shape, 4), dtype=np.float32)
    for value, colour in LABEL_COLOURS.items():
        mask = label2d == value
        rgba[mask, :3] = colour
        rgba[mask, 3] = OVERLAY_ALPHA
    return rgba


def _draw_panel(ax: plt.Axes, image: np.ndarray, label: np.ndarray, spacing, title: str) -> None:
    low, high = np.percentile(image, [1.0, 99.5])
    ny, nx = image.shape
    extent = (0.0, nx * spacing[0], ny * spacing[1], 0.0)  # physical aspect (mm)
    ax.imshow(image, cmap="gray", vmin=low, vmax=high, extent=extent, interpolation="nearest")
    ax.imshow(_overlay_rgba(label), extent=extent, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_dataset_overview(
    fmt: str, root: Path, out_png: Path, options: Mapping[str, Any] | None = None
) -> None:
    """ED and ES mid-ventricular slices with label overlays, one column per group (or case).

    Reads the dataset through :func:`dmr.datasets.read_dataset`; the slice shown is the middle
    of the ED slices holding labels, and the same slice index is shown at ES.
    """
    cases = _overview_cases(fmt, read_dataset(fmt, Path(root), options=options))
    fig, axes = plt.subplots(
        2,
        len(cases),
        figsize=(PANEL_INCHES * len(cases), PANEL_INCHES * 2 + 0.5),
        dpi=DPI,
        squeeze=False,
    )
    drawn: set[int] = set()
    for col, case in enumerate(cases):
        frames = {phase: case.load_phase(phase) for phase in ("ED", "ES")}
        if any(frame.label is None for frame in frames.values()):
            raise DatasetError(f"{case.path}: ED/ES label missing for case {case.case_id}")
        ed_label = sitk.GetArrayFromImage(frames["ED"].label)
        z = _mid_ventricular_index(ed_label)
        rows, cols = _crop_window(ed_label[z], frames["ED"].image.GetSpacing()[:2])
        for row, (phase, frame) in enumerate(frames.items()):
            image = sitk.GetArrayFromImage(frame.image)[z].astype(np.float32)
            label = sitk.GetArrayFromImage(frame.label)[z]
            drawn.update(int(v) for v in np.unique(label[rows, cols]) if v in LABEL_COLOURS)
            # A group only where the data have one (ACDC); LVSC studies carry none.
            parts = [case.case_id, *([str(case.group)] if case.group is not None else []), phase]
            title = f"{' · '.join(parts)} (frame {frame.frame}, z={z + 1})"
            _draw_panel(
                axes[row, col],
                image[rows, cols],
                label[rows, cols],
                frame.image.GetSpacing()[:2],
                title,
            )
    handles = [Patch(color=(*LABEL_COLOURS[v], 0.7), label=LABEL_NAMES[v]) for v in sorted(drawn)]
    fig.legend(
        handles=handles, loc="lower center", ncol=max(len(handles), 1), fontsize=8, frameon=False
    )
    fig.suptitle(overview_title(fmt, cases), fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.07, wspace=0.04, hspace=0.12)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
