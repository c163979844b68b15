"""One look for every figure: the rcParams/seaborn theme, line styles and the paper's labels.

Names and colours of models and structures come from :mod:`dmr.labels` (shared with the tables and
the report): models "UNet" / "DMR-UNet" (not ``unet-dmr``), structures "LV myocardium". Each
architecture has one hue, light for the baseline and dark for its DMR version, so a base/DMR pair
reads as a pair in every figure; ablation variants have hues (and line styles) of their own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns

from dmr.labels import (
    ARCH_NAMES,
    LABEL_NAMES,
    LV_CAVITY,
    LV_MYOCARDIUM,
    MAIN_MODEL,
    PAPER_MODELS,
    RV_CAVITY,
    STRUCTURE_NAMES,
    model_colour,
    model_display_name,
    split_model_name,
)
from dmr.preprocess.regions import REGIONS

__all__ = [
    "ARCH_LABELS",
    "DPI",
    "GROUPS",
    "GROUP_NAMES",
    "LABEL_COLOURS",
    "LABEL_NAMES",
    "PAPER_MODELS",
    "REGION_ORDER",
    "STRUCTURE_NAMES",
    "add_note",
    "figure_style",
    "line_style",
    "model_colour",
    "model_label",
    "ordered_models",
    "split_model",
    "wrapped_title",
]

ARCH_LABELS: dict[str, str] = ARCH_NAMES
#: ACDC's clinical groups in the paper's order (Fig. 5).
GROUPS: tuple[str, ...] = ("DCM", "HCM", "MINF", "NOR", "RV")
GROUP_NAMES: dict[str, str] = {
    "DCM": "dilated cardiomyopathy",
    "HCM": "hypertrophic cardiomyopathy",
    "MINF": "previous myocardial infarction",
    "NOR": "normal subjects",
    "RV": "abnormal right ventricle",
}
#: Slice regions in anatomical order (apex to base), as the slice tables spell them.
REGION_ORDER: tuple[str, ...] = REGIONS
#: Overlay colours (RGB) of the labelled structures.
LABEL_COLOURS: dict[int, tuple[float, float, float]] = {
    RV_CAVITY: (0.95, 0.25, 0.2),
    LV_MYOCARDIUM: (0.2, 0.85, 0.3),
    LV_CAVITY: (0.2, 0.45, 1.0),
}
#: Resolution of every PNG (the PDF is vector).
DPI = 150

#: Line styles and markers of the ablation variants: where two curves coincide, the one below
#: still shows its dashes and markers (the main model is solid and drawn on top).
_VARIANT_LINES: dict[str, tuple[Any, str]] = {
    "dmr_fixed": ("--", "s"),
    "dmr_t5": (":", "^"),
    "dmr_t60": ("-.", "v"),
}
_OTHER_LINE: tuple[Any, str] = ((0, (5, 1, 1, 1)), "D")

_RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    # TrueType in the PDF: text stays text (searchable, editable) in the vector output.
    "pdf.fonttype": 42,
    "image.interpolation": "nearest",
}


@contextmanager
def figure_style() -> Iterator[None]:
    """Seaborn's "ticks" style at "paper" scale plus the project's rcParams, for one figure."""
    rc = {**sns.axes_style("ticks"), **sns.plotting_context("paper"), **_RC}
    with plt.rc_context(rc):
        yield


def split_model(name: str) -> tuple[str, str]:
    """``(arch, variant)`` of ``{arch}-{variant}``; ValueError for another shape."""
    return split_model_name(name)


def model_label(name: str) -> str:
    """The paper's name of a model (:func:`dmr.labels.model_display_name`)."""
    return model_display_name(name)


def line_style(name: str) -> dict[str, Any]:
    """Matplotlib line keywords of a model's curve: the main model solid, thicker and on top;
    other paper models solid; ablation variants dashed with markers, beneath the main model."""
    _, variant = split_model_name(name)
    if name == MAIN_MODEL:
        return {"linestyle": "-", "marker": None, "linewidth": 1.6, "zorder": 5}
    if variant in ("base", "dmr"):
        return {"linestyle": "-", "marker": None, "linewidth": 1.1, "zorder": 3}
    linestyle, marker = _VARIANT_LINES.get(variant, _OTHER_LINE)
    return {"linestyle": linestyle, "marker": marker, "linewidth": 1.1, "zorder": 4,
            "markersize": 3.5}  # fmt: skip


def ordered_models(models: Sequence[str]) -> list[str]:
    """Paper models in the paper's order first, then any other model by name."""
    present = set(models)
    return [m for m in PAPER_MODELS if m in present] + sorted(present - set(PAPER_MODELS))


def add_note(fig, note: str, width_chars: int = 110) -> None:
    """A small wrapped line at the bottom of ``fig`` (e.g. which models the config lacked)."""
    if note:
        fig.text(0.01, 0.01, textwrap.fill(note, width_chars), fontsize=6, va="bottom", ha="left")


def wrapped_title(fig, title: str, fontsize: float = 8) -> None:
    """``fig.suptitle`` wrapped to the figure's width (long case descriptions stay readable)."""
    width_chars = max(int(fig.get_size_inches()[0] * 72 / (0.55 * fontsize)), 20)
    fig.suptitle(textwrap.fill(title, width_chars), fontsize=fontsize)
