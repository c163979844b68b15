"""The vocabulary shared by the published numbers and the reproduced long "cells" tables.

A number of the paper is named by its key (:data:`KEY`): which table, dataset, quantity, phase,
structure, region and method. The published data file and the ``results/stats/<table>.csv``
files use the same words, so comparing them is a join on the key.
"""

from __future__ import annotations

import re

#: The columns that name one number of the paper.
KEY: tuple[str, ...] = ("table", "dataset", "quantity", "phase", "structure", "region", "method")

#: The paper's tables in print order, then the text's figures.
TABLES: tuple[str, ...] = ("I", "IIa", "IIb", "III", "IV", "V", "VIa", "VIb", "text")

#: The paper's dataset roles; Table I's parameter counts belong to no dataset ("").
DATASETS: tuple[str, ...] = ("acdc", "lvsc", "acdc_to_lvsc", "lvsc_to_acdc", "")
PHASES: tuple[str, ...] = ("ED", "ES", "")
STRUCTURES: tuple[str, ...] = ("rv", "myo", "lv", "mean", "")
REGIONS: tuple[str, ...] = ("apical", "mid", "basal", "")
MARKERS: tuple[str, ...] = ("", "*", "**")

_COMPARISON = ("dice_pct", "jaccard_pct", "msd_mm", "hd_mm")
_MASS = ("mass_r", "mass_bias", "mass_loa")
_TABLE5 = tuple(
    f"{measure}_{stat}"
    for measure in ("jaccard", "sensitivity", "specificity", "ppv", "npv")
    for stat in ("mean", "sd")
)

#: The quantities each table prints.
QUANTITIES: dict[str, tuple[str, ...]] = {
    "I": (
        "train_min_per_epoch",
        "test_ms_per_volume",
        "test_ms_per_volume_regularized",
        "params_train_millions",
        "params_test_millions",
    ),
    "IIa": _COMPARISON,
    "IIb": ("ef_r", "ef_bias", "ef_loa", *_MASS),
    "III": ("dice", "hd_mm", "mass_r", "volume_r", "ef_r"),
    "IV": (*_COMPARISON, *_MASS),
    "V": _TABLE5,
    "VIa": _COMPARISON,
    "VIb": _COMPARISON,
    "text": ("dice_mean", "dice_sd", "sigma_ce", "sigma_mad", "jaccard_mean", "jaccard_sd"),
}

#: Other methods' short names: the ACDC challenge's top three (Table III) and Table V's.
PUBLISHED_METHODS: tuple[str, ...] = (
    "Baumgartner",
    "Khened",
    "Isensee",
    "AU",
    "CNR",
    "FCN",
    "DFCN",
    "AO",
    "SCR",
    "INR",
)

#: Our models are ``{arch}-{variant}`` (see README "Configuration").
MODEL_NAME = re.compile(r"^(segnet|usegnet|unet)-([a-z0-9_]+)$")


def is_our_model(method: str) -> bool:
    """True for one of our model names (``unet-dmr``), False for a published method's name."""
    return MODEL_NAME.match(method) is not None


def base_of(method: str) -> str | None:
    """The baseline of a DMR model (``unet-dmr`` -> ``unet-base``); None for anything else."""
    match = MODEL_NAME.match(method)
    if match is None or match.group(2) != "dmr":
        return None
    return f"{match.group(1)}-base"


def printed_decimals(printed: str) -> int:
    """Digits after the decimal point of a printed number ("91.1" -> 1, "70" -> 0)."""
    _, _, decimals = printed.partition(".")
    return len(decimals)
