"""Label semantics, declared once (ACDC's convention is used everywhere in this project)."""

from __future__ import annotations

BACKGROUND = 0
RV_CAVITY = 1
LV_MYOCARDIUM = 2
LV_CAVITY = 3

#: Allowed values of a label map in the project-wide convention.
LABEL_VALUES: tuple[int, ...] = (BACKGROUND, RV_CAVITY, LV_MYOCARDIUM, LV_CAVITY)

#: Short structure names used in every table (column ``structure``).
STRUCTURE_LABELS: dict[str, int] = {"rv": RV_CAVITY, "myo": LV_MYOCARDIUM, "lv": LV_CAVITY}

#: Structures annotated per dataset format: ACDC has all three, LVSC only the myocardium.
FORMAT_STRUCTURES: dict[str, tuple[str, ...]] = {"acdc": ("rv", "myo", "lv"), "lvsc": ("myo",)}

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
