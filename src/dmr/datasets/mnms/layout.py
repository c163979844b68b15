"""The M&Ms open-dataset layout: split folders, subject folders and each subject's 4-D cine and
label files, with the hints given when a root is not (or not quite) that layout.

Shared by the reader and ``dmr check-data``, so both skip and report the same folders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dmr.datasets.mnms.info import INFO_CSV
from dmr.errors import DatasetError

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("training", "validation", "testing")
SOURCE_URL = "https://www.ub.edu/mnms/"

#: Folder of each split below the root.
SPLIT_FOLDERS: dict[str, tuple[str, ...]] = {
    "training": ("Training", "Labeled"),
    "validation": ("Validation",),
    "testing": ("Testing",),
}

_NIFTI_SUFFIXES = (".nii.gz", ".nii")


def missing_root_message(root: Path) -> str:
    """Where to obtain M&Ms and what the folder must hold; used when the folder is missing."""
    return (
        f"{root}: M&Ms dataset folder not found. Register and download the M&Ms open dataset "
        f"from {SOURCE_URL}, then unpack its OpenDataset folder so that "
        f"{root / 'Training' / 'Labeled'}/<code>/<code>_sa.nii.gz and <code>_sa_gt.nii.gz exist "
        f"(Validation/ and Testing/ likewise) with the information CSV ({INFO_CSV}) beside them."
    )


@dataclass(frozen=True)
class SubjectFiles:
    """The 4-D cine and 4-D label file of one subject folder (``None`` when absent)."""

    cine: Path | None
    label: Path | None


def split_dir(root: Path, split: str) -> Path:
    """The folder holding the subject folders of ``split``; DatasetError when absent."""
    if split not in SPLITS:
        raise DatasetError(f"{root}: unknown M&Ms split {split!r}; expected one of {SPLITS}")
    if not root.is_dir():
        raise DatasetError(missing_root_message(root))
    folder = root.joinpath(*SPLIT_FOLDERS[split])
    if not folder.is_dir():
        raise DatasetError(f"{folder}: M&Ms split folder missing. " + layout_hint(root))
    return folder


def layout_hint(root: Path) -> str:
    """What a root without the M&Ms-1 split folders probably is, and what to do."""
    if (root / "OpenDataset" / "Training").is_dir():
        return f"The dataset root must be the OpenDataset folder: {root / 'OpenDataset'}."
    if (root / "dataset").is_dir() and any(root.glob("dataset/*/*_SA_CINE.nii*")):
        return (
            f"{root} looks like M&Ms-2 (dataset/<NNN>/<NNN>_SA_CINE.nii.gz), which format "
            "mnms does not read; it reads the M&Ms-1 open dataset."
        )
    return missing_root_message(root)


def _nifti_named(folder: Path, stem: str) -> Path | None:
    for suffix in _NIFTI_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def list_subject_dirs(folder: Path) -> list[Path]:
    """Subject folders of a split folder, sorted by code: the folders holding a file named
    ``<folder name>_sa...``; hidden and other extra entries (``.DS_Store``, notes) are ignored."""
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_dir()
            and not p.name.startswith(".")
            and any(f.name.startswith(f"{p.name}_sa") for f in p.iterdir() if f.is_file())
        ),
        key=lambda p: p.name,
    )


def find_subject_files(subject_dir: Path) -> SubjectFiles:
    """The ``<code>_sa`` cine and ``<code>_sa_gt`` labels of a subject folder."""
    code = subject_dir.name
    return SubjectFiles(
        cine=_nifti_named(subject_dir, f"{code}_sa"),
        label=_nifti_named(subject_dir, f"{code}_sa_gt"),
    )


def labelled_subject_dirs(folder: Path, split: str) -> list[Path]:
    """The subject folders of a split that are read: every one of ``Training/Labeled``; those
    with a ``_sa_gt`` file in Validation/Testing (a release without their labels has none)."""
    subject_dirs = list_subject_dirs(folder)
    if split == "training":
        return subject_dirs
    kept = [d for d in subject_dirs if find_subject_files(d).label is not None]
    if len(kept) < len(subject_dirs):
        log.info("%s: %d subject(s) without _sa_gt skipped", folder, len(subject_dirs) - len(kept))
    return kept
