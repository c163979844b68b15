"""Saving and loading the training's ``.pt`` files: atomic writes, ``weights_only`` reads.

Every file carries a ``kind``: ``model`` (``model.pt``, the inference bundle), ``checkpoint``
(``checkpoint.pt``, best weights with the regularizer) or ``train-state`` (``last.pt``, the
per-epoch resume state), so a file of the wrong kind is refused with a message, not a KeyError.
Only tensors, primitives, lists and dicts are stored, so ``torch.load(..., weights_only=True)``
never executes code from a file.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from dmr.errors import InputError
from dmr.io import atomic_path

KINDS: dict[str, str] = {
    "model": "an inference bundle (model.pt)",
    "checkpoint": "a training checkpoint with the regularizer (checkpoint.pt)",
    "train-state": "a per-epoch resume state (last.pt)",
}


def save_checkpoint(path: str | Path, obj: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: complete or absent."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint`, on the CPU, with ``weights_only=True``.

    Raises:
        InputError: naming ``path`` when it is missing, not a torch file, not one of ours, or of
            another ``kind`` than requested.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a dmr model/checkpoint file ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        raise InputError(f"{path}: not a dmr model/checkpoint file (no known 'kind' entry)")
    if kind is not None and obj["kind"] != kind:
        raise InputError(f"{path}: is {KINDS[obj['kind']]}, expected {KINDS[kind]}")
    return obj
