"""Datasets stage: the real on-disk formats (ACDC, LVSC, nnU-Net raw, M&Ms) read into one case
model.

Also the phantom generator (``phantom*``: synthetic cases written in those formats), the checks
(``checks``: ``dmr check-data``), ``download`` (a verified archive into place) and ``frames``
(which frames of a case a split predicts and scores, and their file names).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dmr.datasets.case import Case, Frame

FORMATS: tuple[str, ...] = ("acdc", "lvsc", "nnunet", "mnms")
#: Formats whose reader needs options (config ``datasets.<name>.reader``): a label map, ...
OPTION_FORMATS: tuple[str, ...] = ("nnunet", "mnms")

__all__ = ["FORMATS", "Case", "Frame", "dataset_structures", "read_dataset"]

#: Names imported on first use (PEP 562): ``case`` loads SimpleITK, which the light modules of
#: this package (``frames``, imported by the command line's parser) must not pay for.
_LAZY_EXPORTS = {"Case": "case", "Frame": "case"}


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_dataset(
    fmt: str,
    root: str | Path,
    split: str = "training",
    references: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[Case]:
    """List the cases of a dataset folder in format ``fmt`` (one of :data:`FORMATS`).

    ``split``: ``training`` (every format), ``testing`` (ACDC, nnU-Net's ``imagesTs``, M&Ms) or
    ``validation`` (LVSC, M&Ms). ``references``: a folder of reference masks kept apart from the
    images (LVSC's consensus images of the validation split); other formats keep their references
    in their own layout, so they take none. ``options``: the reader's settings for the formats
    of :data:`OPTION_FORMATS` (nnU-Net: the label map, how case ids name patients and phases;
    M&Ms: the information CSV and what a case's group is).

    Raises ``dmr.errors.DatasetError`` naming the path and the problem when the folder is
    missing or unusable; the message for a missing folder says where to obtain the data.
    """
    from dmr.errors import DatasetError

    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")
    if references is not None and fmt != "lvsc":
        raise DatasetError(
            f"{references}: {fmt} references live in the dataset's own layout; "
            "a separate references folder is only used for LVSC"
        )
    if options and fmt not in OPTION_FORMATS:
        raise DatasetError(f"{root}: the {fmt} reader takes no options, got {sorted(options)}")
    if fmt == "acdc":
        from dmr.datasets import acdc

        return acdc.read_cases(Path(root), split=split)
    if fmt == "lvsc":
        from dmr.datasets import lvsc

        masks_root = None if references is None else Path(references)
        return lvsc.read_cases(Path(root), split=split, masks_root=masks_root)
    return _option_reader(fmt).read_cases(Path(root), split=split, options=options or {})


def dataset_structures(fmt: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The project structures (``rv``, ``myo``, ``lv``, in that order) a dataset annotates.

    ACDC and M&Ms annotate all three, LVSC the myocardium; an nnU-Net dataset whatever its label
    map names.
    """
    from dmr.labels import FORMAT_STRUCTURES

    if fmt in FORMAT_STRUCTURES:
        return FORMAT_STRUCTURES[fmt]
    if fmt == "nnunet":
        return _option_reader(fmt).structures(options or {})
    raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")


def reader_option_problems(fmt: str, options: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with a reader's options (one line each), before any file is read."""
    if fmt not in OPTION_FORMATS:
        return [f"the {fmt} reader takes no options"] if options else []
    return _option_reader(fmt).option_problems(options or {})


def _option_reader(fmt: str) -> Any:
    """The module of a format that takes options (imported on use: SimpleITK is heavy)."""
    return importlib.import_module(f"{__name__}.{fmt}")
