"""One look for every figure: the rcParams/seaborn theme, colours and the paper's labels.

Labels are the paper's words: models "UNet" / "DMR-UNet" (not ``unet-dmr``), regions "apical",
groups "DCM". Colours: each architecture has one hue, light for the baseline and dark for its DMR
version (seaborn's "Paired" palette), so a base/DMR pair reads as a pair in every figure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns

from dmr.labels import LV_CAVITY, LV_MYOCARDIUM, RV_CAVITY
from dmr.preprocess.regions import REGIONS

#: The six networks of the paper, in its column order (Tables II, IV).
PAPER_MODELS: tuple[str, ...] = (
    "segnet-base",
    "segnet-dmr",
    "usegnet-base",
    "usegnet-dmr",
    "unet-base",
    "unet-dmr",
)
ARCH_LABELS: dict[str, str] = {"segnet": "SegNet", "usegnet": "USegNet", "unet": "UNet"}
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
STRUCTURE_NAMES: dict[str, str] = {
    "rv": "RV blood pool",
    "myo": "LV myocardium",
    "lv": "LV blood pool",
}
#: Overlay colours (RGB) of the labelled structures.
LABEL_COLOURS: dict[int, tuple[float, float, float]] = {
    RV_CAVITY: (0.95, 0.25, 0.2),
    LV_MYOCARDIUM: (0.2, 0.85, 0.3),
    LV_CAVITY: (0.2, 0.45, 1.0),
}
LABEL_NAMES: dict[int, str] = {RV_CAVITY: "RV", LV_MYOCARDIUM: "LV myocardium", LV_CAVITY: "LV"}
#: Resolution of every PNG (the PDF is vector).
DPI = 150

_PAIRED = sns.color_palette("Paired", 12)
_ARCH_INDEX = {"segnet": 0, "usegnet": 1, "unet": 2}
_VARIANT_WORDS = {"dmr_fixed": "fixed weights"}
#: Ablation variants get hues of their own, apart from the architecture pairs.
_ABLATION_COLOURS = {"dmr_fixed": _PAIRED[9], "dmr_t5": _PAIRED[7], "dmr_t60": _PAIRED[11]}
_OTHER_COLOUR = (0.45, 0.45, 0.45)

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
    arch, sep, variant = name.partition("-")
    if not sep or arch not in ARCH_LABELS or not variant:
        raise ValueError(f"model name {name!r} is not '{{arch}}-{{variant}}' (e.g. 'unet-dmr')")
    return arch, variant


def model_label(name: str) -> str:
    """The paper's name of a model: ``unet-base`` -> "UNet", ``unet-dmr`` -> "DMR-UNet";
    ablations keep their variant in brackets ("DMR-UNet (fixed weights)")."""
    arch, variant = split_model(name)
    if variant == "base":
        return ARCH_LABELS[arch]
    label = f"DMR-{ARCH_LABELS[arch]}"
    if variant == "dmr":
        return label
    return f"{label} ({_VARIANT_WORDS.get(variant, variant)})"


def model_colour(name: str) -> tuple[float, float, float]:
    """Light hue of the architecture for its baseline, dark hue for its DMR version; ablation
    variants (fixed weights, other thresholds) have hues of their own, others are grey."""
    arch, variant = split_model(name)
    if variant in ("base", "dmr"):
        return _PAIRED[2 * _ARCH_INDEX[arch] + (0 if variant == "base" else 1)]
    return _ABLATION_COLOURS.get(variant, _OTHER_COLOUR)


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


def sequential_colours(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinguishable colours for ablation levels (weighting, threshold)."""
    return list(sns.color_palette("crest", max(n, 1)))[:n]
