"""Readers of the real on-disk dataset formats (ACDC, LVSC) and the phantom generator."""

from __future__ import annotations

from pathlib import Path

from dmr.datasets.case import Case, Frame

FORMATS: tuple[str, ...] = ("acdc", "lvsc")

__all__ = ["FORMATS", "Case", "Frame", "read_dataset"]


def read_dataset(fmt: str, root: str | Path, split: str = "training") -> list[Case]:
    """List the cases of a dataset folder in format ``fmt`` (``acdc`` or ``lvsc``).

    Raises ``dmr.errors.DatasetError`` naming the path and the problem when the folder is
    missing or unusable; the message for a missing folder says where to obtain the data.
    """
    if fmt == "acdc":
        from dmr.datasets import acdc

        return acdc.read_cases(Path(root), split=split)
    if fmt == "lvsc":
        from dmr.datasets import lvsc

        return lvsc.read_cases(Path(root), split=split)
    raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")
