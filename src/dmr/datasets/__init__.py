"""Datasets stage: the real on-disk formats (ACDC, LVSC) read into one case model.

Also the phantom generator (``phantom*``: synthetic cases written in those formats), the checks
(``checks``: ``dmr check-data``), ``download`` (a verified archive into place) and ``frames``
(which frames of a case a split predicts and scores, and their file names).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmr.datasets.case import Case, Frame

FORMATS: tuple[str, ...] = ("acdc", "lvsc")

__all__ = ["FORMATS", "Case", "Frame", "read_dataset"]

#: Names imported on first use (PEP 562): ``case`` loads SimpleITK, which the light modules of
#: this package (``frames``, imported by the command line's parser) must not pay for.
_LAZY_EXPORTS = {"Case": "case", "Frame": "case"}


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_dataset(
    fmt: str, root: str | Path, split: str = "training", references: str | Path | None = None
) -> list[Case]:
    """List the cases of a dataset folder in format ``fmt`` (``acdc`` or ``lvsc``).

    ``split``: ``training`` (both), ``testing`` (ACDC) or ``validation`` (LVSC). ``references``:
    a folder of reference masks kept apart from the images (LVSC's consensus images of the
    validation split); ACDC keeps its references beside the images, so it takes none.

    Raises ``dmr.errors.DatasetError`` naming the path and the problem when the folder is
    missing or unusable; the message for a missing folder says where to obtain the data.
    """
    from dmr.errors import DatasetError

    if fmt == "acdc":
        from dmr.datasets import acdc

        if references is not None:
            raise DatasetError(
                f"{references}: ACDC references are the _gt files beside the images; "
                "a separate references folder is only used for LVSC"
            )
        return acdc.read_cases(Path(root), split=split)
    if fmt == "lvsc":
        from dmr.datasets import lvsc

        masks_root = None if references is None else Path(references)
        return lvsc.read_cases(Path(root), split=split, masks_root=masks_root)
    raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")
