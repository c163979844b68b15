"""The LVSC layout: its splits, study folders and the (slice, phase) index of a study's DICOMs and
masks, with the structural problems a reader or ``dmr check-data`` reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dmr.errors import DatasetError

FORMAT = "lvsc"
SPLITS: tuple[str, ...] = ("training", "validation")
SOURCE_URL = "https://www.cardiacatlas.org/"

_STUDY_DIR = re.compile(r"^DET\d+$")
_SLICE_FILE = re.compile(r"^(DET\d+)_SA(\d+)_ph(\d+)\.(dcm|png)$", re.IGNORECASE)

#: Folder under the dataset root where the phantoms (and, by convention, users) keep the
#: validation split's consensus (CS*) masks; any other folder can be configured.
CONSENSUS_FOLDER = "consensus"

SliceKey = tuple[int, int]  # (slice index, phase index) as written in the file name


def missing_root_message(root: Path) -> str:
    """Where to obtain LVSC and where to put it; used when the dataset folder is missing."""
    return (
        f"{root}: LVSC dataset folder not found. Download the LV Segmentation Challenge 2011 "
        f"data from the Cardiac Atlas Project ({SOURCE_URL}) and unpack it so that "
        f"{root / 'DET0000101'}/ exists (DET0000101_SA1_ph0.dcm and .png masks inside)."
    )


@dataclass(frozen=True)
class StudyFiles:
    """The DICOMs and masks of one study, keyed by (slice index, phase index)."""

    study_id: str
    folder: Path
    dicoms: dict[SliceKey, Path]
    masks: dict[SliceKey, Path]

    @property
    def phases(self) -> list[int]:
        """Phase indices found (0-based), sorted."""
        return sorted({phase for _, phase in self.dicoms})

    def slice_keys(self, frame: int) -> list[SliceKey]:
        """The (slice, phase) keys of frame ``frame`` (1-based), in SA-index order."""
        return sorted(key for key in self.dicoms if key[1] == frame - 1)


def study_root(root: Path, split: str) -> Path:
    """The folder holding the study folders of ``split``; DatasetError when absent."""
    if split not in SPLITS:
        raise DatasetError(f"{root}: unknown LVSC split {split!r}; expected one of {SPLITS}")
    if not root.is_dir():
        raise DatasetError(missing_root_message(root))
    folder = root if split == "training" else root / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: LVSC {split} folder missing. " + missing_root_message(root))
    return folder


def list_study_dirs(folder: Path) -> list[Path]:
    """Study folders (``DETnnnnnnn``) of one split folder, sorted by study id."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and _STUDY_DIR.match(p.name)),
        key=lambda p: p.name,
    )


def _index_folder(folder: Path, study_id: str, extension: str) -> dict[SliceKey, Path]:
    files: dict[SliceKey, Path] = {}
    for path in sorted(folder.iterdir()):
        m = _SLICE_FILE.match(path.name)
        if m is None or m.group(1) != study_id or not path.is_file():
            continue
        if m.group(4).lower() != extension:
            continue
        key = (int(m.group(2)), int(m.group(3)))
        if key in files:
            raise DatasetError(
                f"{folder}: two files for slice {key[0]} phase {key[1]}: "
                f"{files[key].name} and {path.name}"
            )
        files[key] = path
    return files


def index_study_files(study_dir: Path, mask_dir: Path | None = None) -> StudyFiles:
    """Sort a study folder's files into DICOMs and masks by (slice, phase).

    Only files named after the folder's own study id count. Two files for one key (``SA1`` beside
    ``SA01``, or ``.dcm`` beside ``.DCM``) are an error, since either could be meant. With
    ``mask_dir`` (the validation split's consensus images, kept apart from the download), masks
    are taken from there instead of the study folder; a missing ``mask_dir`` means no masks.
    """
    dicoms = _index_folder(study_dir, study_dir.name, "dcm")
    if mask_dir is None:
        masks = _index_folder(study_dir, study_dir.name, "png")
    else:
        masks = _index_folder(mask_dir, study_dir.name, "png") if mask_dir.is_dir() else {}
    return StudyFiles(study_id=study_dir.name, folder=study_dir, dicoms=dicoms, masks=masks)


def study_problems(files: StudyFiles, *, require_masks: bool) -> list[str]:
    """Structural problems of a study's file set (each naming the file or folder).

    A study without any mask is unlabelled, which is only a problem when ``require_masks``; a
    study with some masks needs one for every DICOM.
    """
    problems: list[str] = []
    if not files.dicoms:
        return [f"{files.folder}: no {files.study_id}_SA*_ph*.dcm files"]
    if not files.masks and require_masks:
        problems.append(f"{files.folder}: no myocardium masks ({files.study_id}_SA*_ph*.png)")
    for key in sorted(files.masks.keys() - files.dicoms.keys()):
        problems.append(f"{files.masks[key]}: mask without its DICOM image")
    for key in sorted(files.dicoms.keys() - files.masks.keys() if files.masks else ()):
        problems.append(f"{files.dicoms[key]}: missing mask {files.dicoms[key].stem}.png")
    phases = files.phases
    missing_phases = sorted(set(range(phases[-1] + 1)) - set(phases))
    if missing_phases:
        problems.append(f"{files.folder}: phases {missing_phases} missing (found {phases})")
    slices_by_phase = {p: {s for s, q in files.dicoms if q == p} for p in phases}
    all_slices = set().union(*slices_by_phase.values())
    for phase, slices in slices_by_phase.items():
        if slices != all_slices:
            problems.append(
                f"{files.folder}: phase {phase} lacks slice(s) {sorted(all_slices - slices)}"
            )
    return problems
