"""Label semantics, and the display names and colours of structures and models, declared once.

ACDC's label convention is used everywhere in this project. Figures, tables and the report take
every printed name (and every figure its model colours) from here, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

BACKGROUND = 0
RV_CAVITY = 1
LV_MYOCARDIUM = 2
LV_CAVITY = 3

#: Allowed values of a label map in the project-wide convention.
LABEL_VALUES: tuple[int, ...] = (BACKGROUND, RV_CAVITY, LV_MYOCARDIUM, LV_CAVITY)

#: Short structure names used in every table (column ``structure``).
STRUCTURE_LABELS: dict[str, int] = {"rv": RV_CAVITY, "myo": LV_MYOCARDIUM, "lv": LV_CAVITY}

#: Structures annotated per dataset format: ACDC has all three, LVSC only the myocardium.
FORMAT_STRUCTURES: dict[str, tuple[str, ...]] = {
    "acdc": ("rv", "myo", "lv"),
    "lvsc": ("myo",),
    "mnms": ("rv", "myo", "lv"),
}

#: Phases evaluated in every table.
PHASES: tuple[str, ...] = ("ED", "ES")


def label_values_for(structures: tuple[str, ...] | list[str]) -> list[int]:
    """Global label value of each training class index: background first, then ``structures``.

    A network trained on LVSC predicts 2 classes (background, myocardium); class 1 maps to
    label 2 so that predictions of every model share the same label convention.
    """
    unknown = [s for s in structures if s not in STRUCTURE_LABELS]
    if unknown:
        raise ValueError(f"unknown structure(s) {unknown}; known: {sorted(STRUCTURE_LABELS)}")
    return [BACKGROUND, *(STRUCTURE_LABELS[s] for s in structures)]


# --------------------------------------------------------------------------- display names
# Every figure, table and report page names structures and models through these, so a reader
# meets one name (and, in figures, one colour) per thing. Spelling follows the paper's text:
# "RV blood-pool", "DMR-UNet" (its Tables II/IV/VI abbreviate SegNet as SN and USegNet as USN).

#: Printed name of each structure (paper II.A: "RV blood-pool, LV myocardium, LV blood-pool").
STRUCTURE_NAMES: dict[str, str] = {
    "rv": "RV blood-pool",
    "myo": "LV myocardium",
    "lv": "LV blood-pool",
}
#: Abbreviation of each structure in table headers and axis labels ("LV Dice", "Myo Mass").
STRUCTURE_ABBREVIATIONS: dict[str, str] = {"rv": "RV", "myo": "Myo", "lv": "LV"}
#: Printed name of each label value (overlay legends).
LABEL_NAMES: dict[int, str] = {value: STRUCTURE_NAMES[s] for s, value in STRUCTURE_LABELS.items()}

#: The paper's architectures: printed name, and the abbreviation of its tables' column headers.
ARCH_NAMES: dict[str, str] = {"segnet": "SegNet", "usegnet": "USegNet", "unet": "UNet"}
ARCH_ABBREVIATIONS: dict[str, str] = {"segnet": "SN", "usegnet": "USN", "unet": "UNet"}
#: The six networks of the paper, in its column order (Tables II, IV, VI).
PAPER_MODELS: tuple[str, ...] = (
    "segnet-base",
    "segnet-dmr",
    "usegnet-base",
    "usegnet-dmr",
    "unet-base",
    "unet-dmr",
)
#: The paper's featured model (Figs. 1, S2; Tables III, V): drawn on top of every other line.
MAIN_MODEL = "unet-dmr"
#: Words for the ablation variants of the workflow's config (Figs. 6, 7); others print as named.
VARIANT_WORDS: dict[str, str] = {
    "dmr_fixed": "fixed weights",
    "dmr_t5": "paper's T = 5",
    "dmr_t60": "paper's T = 60",
}

RGB = tuple[float, float, float]


def _rgb(hex_colour: str) -> RGB:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return (red, green, blue)


# ColorBrewer "Paired" (matplotlib/seaborn "Paired"): one hue per architecture, light for the
# baseline and dark for its DMR version, so a base/DMR pair reads as a pair in every figure.
_PAIRED = (
    "#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c",
    "#fdbf6f", "#ff7f00", "#cab2d6", "#6a3d9a", "#ffff99", "#b15928",
)  # fmt: skip
_ARCH_HUE = {"segnet": 0, "usegnet": 1, "unet": 2}
#: Ablation variants get hues of their own, apart from the architecture pairs.
_VARIANT_COLOURS: dict[str, str] = {
    "dmr_fixed": _PAIRED[9],
    "dmr_t5": _PAIRED[7],
    "dmr_t60": _PAIRED[11],
}
_OTHER_COLOUR: RGB = (0.45, 0.45, 0.45)


def split_model_name(name: str) -> tuple[str, str]:
    """``(arch, variant)`` of ``{arch}-{variant}``; ValueError for another shape."""
    arch, sep, variant = str(name).partition("-")
    if not sep or arch not in ARCH_NAMES or not variant:
        raise ValueError(f"model name {name!r} is not '{{arch}}-{{variant}}' (e.g. 'unet-dmr')")
    return arch, variant


def _named(name: str, arch_names: dict[str, str]) -> str:
    arch, variant = split_model_name(name)
    if variant == "base":
        return arch_names[arch]
    label = f"DMR-{arch_names[arch]}"
    if variant == "dmr":
        return label
    return f"{label} ({VARIANT_WORDS.get(variant, variant)})"


def model_display_name(name: str) -> str:
    """The paper's name of a model: ``unet-base`` -> "UNet", ``unet-dmr`` -> "DMR-UNet";
    ablations keep their variant in brackets ("DMR-UNet (fixed weights)")."""
    return _named(name, ARCH_NAMES)


def model_short_name(name: str) -> str:
    """A model's table column header: the display name with SegNet/USegNet abbreviated
    ("SN", "DMR-SN", "DMR-UNet"); see :func:`abbreviations_note`."""
    return _named(name, ARCH_ABBREVIATIONS)


def model_colour(name: str) -> RGB:
    """The one colour of a model in every figure: light hue of its architecture for the
    baseline, dark hue for the DMR version, a hue of its own for an ablation variant, grey
    for anything else."""
    arch, variant = split_model_name(name)
    if variant in ("base", "dmr"):
        return _rgb(_PAIRED[2 * _ARCH_HUE[arch] + (variant == "dmr")])
    colour = _VARIANT_COLOURS.get(variant)
    return _rgb(colour) if colour else _OTHER_COLOUR


def abbreviations_note(models: Iterable[str]) -> str:
    """Definitions of the abbreviations the short names of ``models`` use ("SN: SegNet."),
    so a caption defines only what its table shows; "" when none is abbreviated."""
    archs = {split_model_name(m)[0] for m in models}
    defined = [
        f"{ARCH_ABBREVIATIONS[a]}: {ARCH_NAMES[a]}"
        for a in ARCH_NAMES
        if a in archs and ARCH_ABBREVIATIONS[a] != ARCH_NAMES[a]
    ]
    return f"{', '.join(defined)}." if defined else ""
