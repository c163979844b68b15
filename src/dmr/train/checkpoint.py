"""Saving and loading the training's ``.pt`` files: atomic writes, ``weights_only`` reads.

Every file carries a ``kind``: ``model`` (``model.pt``, the inference bundle), ``checkpoint``
(``checkpoint.pt``, best weights with the regularizer) or ``train-state`` (``last.pt``, the
per-epoch resume state), so a file of the wrong kind is refused with a message, not a KeyError.
Only tensors, primitives, lists and dicts are stored, so ``torch.load(..., weights_only=True)``
never executes code from a file.
"""

from __future__ import annotations

import warnings
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


#: What each ``kind`` is called when a file cannot be read at all ("not a dmr ... file").
_NOUNS: dict[str | None, str] = {
    None: "model/checkpoint",
    "model": "model",
    "checkpoint": "training checkpoint",
    "train-state": "training state",
}
#: What a file that cannot be used as the per-epoch resume state can be done with.
_RESUME_HINT = "; delete it to train this fold from the start"
#: torch.save writes zip archives since PyTorch 1.6; torch.load tells them by these four bytes.
_ZIP_MAGIC = b"PK\x03\x04"


def _unreadable_reason(head: bytes, exc: Exception) -> str:
    """A few words on why ``torch.load`` failed on a file starting with ``head``.

    PyTorch's own messages run to ten lines of ``weights_only`` advice ("re-running with
    weights_only=False will likely succeed") that is wrong for a corrupt file and unsafe to follow.
    """
    if not head:
        return "empty file"
    if head != _ZIP_MAGIC:
        return "not a PyTorch zip archive"
    if "Unsupported global" in str(exc):
        return "holds pickled Python objects, not plain tensors"
    return "truncated or damaged archive"


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint`, on the CPU, with ``weights_only=True``.

    Raises:
        InputError: one line naming ``path`` when it is missing, unreadable, not a torch file
            (random bytes, text, truncated), not one of ours, or of another ``kind`` than requested.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:  # here, not around torch.load: it raises OSError for a truncated archive too
        with path.open("rb") as stream:
            head = stream.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    noun = f"not a dmr {_NOUNS.get(kind, _NOUNS[None])} file"
    hint = _RESUME_HINT if kind == "train-state" else ""
    # Warnings of a failed load (e.g. "weights_only Unpickler might not support ... protocol") say
    # nothing the error does not; those of a successful one are passed on.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except MemoryError:
            raise
        except Exception as exc:  # arbitrary bytes fail anywhere in the unpickler, any type
            reason = _unreadable_reason(head, exc)
            raise InputError(
                f"{path}: {noun} (corrupt or not a checkpoint: {reason}){hint}"
            ) from exc
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        raise InputError(f"{path}: {noun} (a torch file without dmr's 'kind' entry){hint}")
    if kind is not None and obj["kind"] != kind:
        raise InputError(f"{path}: is {KINDS[obj['kind']]}, expected {KINDS[kind]}")
    return obj
