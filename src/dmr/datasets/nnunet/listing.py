"""Which files an nnU-Net raw dataset holds and whose study each is: the split folders, the
``{case}_0000`` images and their references, and the patient and phase of every nnU-Net case
(option ``case_pattern``, a phases CSV, or the case id itself) grouped into per-patient frames.

A project case is a patient's study while an nnU-Net case is one volume; this grouping is the
bridge, so it lives in one place that the reader and ``dmr check-data`` both walk."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmr.errors import DatasetError

SPLITS: tuple[str, ...] = ("training", "testing")
#: Image and label folder of each split.
FOLDERS = {"training": ("imagesTr", "labelsTr"), "testing": ("imagesTs", "labelsTs")}
PHASE_COLUMNS: tuple[str, ...] = ("case", "patient", "phase")

_CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass(frozen=True)
class CaseFiles:
    """One nnU-Net case: its image and, where there is one, its reference."""

    case_id: str
    image: Path
    label: Path | None


@dataclass(frozen=True)
class CaseRole:
    """Whose study an nnU-Net case belongs to and which phase it is (``ED``, ``ES`` or None)."""

    patient: str
    phase: str | None
    group: str | None = None


@dataclass(frozen=True)
class PatientFrames:
    """One patient's cases as 1-based frames (ED, ES, others); ED/ES 0 when unknown."""

    patient: str
    group: str | None
    frames: tuple[CaseFiles, ...]
    ed_frame: int
    es_frame: int


def split_folders(root: Path, split: str) -> tuple[Path, Path]:
    """Image and label folder of ``split``."""
    if split not in SPLITS:
        raise DatasetError(f"{root}: unknown nnU-Net split {split!r}; expected one of {SPLITS}")
    images, labels = FOLDERS[split]
    return root / images, root / labels


def file_stem(path: Path, ending: str) -> str | None:
    """``path``'s name less ``ending``; None for other or hidden files (``.DS_Store``, ``._x``)."""
    name = path.name
    if name.startswith(".") or not name.endswith(ending) or len(name) == len(ending):
        return None
    return name[: -len(ending)] if path.is_file() else None


def list_labels(labels_dir: Path, ending: str) -> dict[str, Path]:
    """Reference files of a label folder by case id (empty when the folder is absent)."""
    if not labels_dir.is_dir():
        return {}
    found = ((file_stem(p, ending), p) for p in sorted(labels_dir.iterdir()))
    return {stem: path for stem, path in found if stem is not None}


def list_split(root: Path, split: str, ending: str, problems: list[str]) -> list[CaseFiles]:
    """The cases of ``split`` by case id; problems for extra channels and missing references."""
    images_dir, labels_dir = split_folders(root, split)
    if not images_dir.is_dir():
        what = "dataset.json, imagesTr/ and labelsTr/" if split == "training" else "imagesTs/"
        problems.append(f"{images_dir}: missing folder (an nnU-Net raw dataset holds {what})")
        return []
    if split == "training" and not labels_dir.is_dir():
        problems.append(f"{labels_dir}: missing folder (the references of imagesTr)")
    images: dict[str, Path] = {}
    for path in sorted(images_dir.iterdir()):
        stem = file_stem(path, ending)
        match = _CHANNEL_FILE.match(stem) if stem is not None else None
        if match is None:
            continue  # README, .DS_Store, other endings: not an nnU-Net image
        if match["channel"] != "0000":
            problems.append(
                f"{path}: channel {match['channel']}; this method takes one cine channel "
                f"(only {{case}}_0000{ending})"
            )
            continue
        images[match["case"]] = path
    if not images and not problems:
        problems.append(f"{images_dir}: no {{case}}_0000{ending} images")
    labels = list_labels(labels_dir, ending)
    files = []
    for case_id, image in sorted(images.items()):
        label = labels.get(case_id)
        if label is None and split == "training" and labels_dir.is_dir():
            problems.append(f"{labels_dir / (case_id + ending)}: missing (the label of {image})")
        files.append(CaseFiles(case_id=case_id, image=image, label=label))
    return files


# --------------------------------------------------------------------------- patients
def phases_path(root: Path, options: Mapping[str, Any]) -> Path:
    """The phases CSV of the options, relative paths taken from the dataset root."""
    path = Path(str(options["phases"]))
    return path if path.is_absolute() else root / path


def _phase(text: str | None) -> str | None:
    phase = (text or "").strip().upper()
    return phase if phase in ("ED", "ES") else None


def read_phases_csv(path: Path, problems: list[str]) -> dict[str, CaseRole]:
    """``case, patient, phase[, group]`` rows by case id (option ``phases``)."""
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except FileNotFoundError:
        problems.append(f"{path}: phases CSV (config key reader.phases) not found")
        return {}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{path}: unreadable phases CSV ({exc})")
        return {}
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    missing = [c for c in PHASE_COLUMNS if c not in header]
    if missing:
        problems.append(
            f"{path}: missing column(s) {missing}; expected case, patient, phase[, group]"
        )
        return {}
    index = {name: header.index(name) for name in (*PHASE_COLUMNS, "group") if name in header}
    roles: dict[str, CaseRole] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = {k: row[i].strip() if i < len(row) else "" for k, i in index.items()}
        if not cell["case"] or not cell["patient"]:
            problems.append(f"{path}: line {number}: empty case or patient")
        elif cell["phase"] and _phase(cell["phase"]) is None:
            problems.append(
                f"{path}: line {number}: phase {cell['phase']!r} is not ED, ES or empty"
            )
        elif cell["case"] in roles:
            problems.append(f"{path}: line {number}: case {cell['case']} listed twice")
        else:
            group = cell.get("group") or None
            roles[cell["case"]] = CaseRole(cell["patient"], _phase(cell["phase"]), group)
    return roles


def case_roles(
    root: Path, files: Sequence[CaseFiles], options: Mapping[str, Any], problems: list[str]
) -> dict[str, CaseRole]:
    """Patient and phase of every case: from ``case_pattern``, ``phases`` or the case id itself."""
    roles: dict[str, CaseRole] = {}
    if options.get("case_pattern") is not None:
        pattern = re.compile(options["case_pattern"])
        for f in files:
            match = pattern.fullmatch(f.case_id)
            if match is None or not match["patient"]:
                problems.append(
                    f"{f.image}: case id {f.case_id!r} does not match the config key "
                    f"reader.case_pattern '{pattern.pattern}'"
                )
                continue
            phase = match.groupdict().get("phase")
            roles[f.case_id] = CaseRole(match["patient"], _phase(phase))
    elif options.get("phases") is not None:
        path = phases_path(root, options)
        table = read_phases_csv(path, problems)
        for f in files:
            if f.case_id in table:
                roles[f.case_id] = table[f.case_id]
            elif table:
                problems.append(f"{path}: no row for case {f.case_id} ({f.image})")
    else:
        roles = {f.case_id: CaseRole(f.case_id, None) for f in files}
    return roles


def group_patients(
    files: Sequence[CaseFiles], roles: Mapping[str, CaseRole], problems: list[str]
) -> list[PatientFrames]:
    """Cases grouped by patient, sorted by patient; frames ordered ED, ES, then by case id."""
    by_patient: dict[str, list[CaseFiles]] = {}
    for f in files:
        if f.case_id in roles:
            by_patient.setdefault(roles[f.case_id].patient, []).append(f)
    patients = []
    for patient, members in sorted(by_patient.items()):
        phased: dict[str, CaseFiles] = {}
        for f in members:
            phase = roles[f.case_id].phase
            if phase is not None and phase in phased:
                problems.append(
                    f"{f.image}: a second {phase} case of patient {patient} "
                    f"(also {phased[phase].image.name})"
                )
            elif phase is not None:
                phased[phase] = f
        others = sorted((f for f in members if f not in phased.values()), key=lambda f: f.case_id)
        frames = (*(phased[p] for p in ("ED", "ES") if p in phased), *others)
        groups = sorted({g for f in members if (g := roles[f.case_id].group)})
        if len(groups) > 1:
            problems.append(f"patient {patient}: cases in different groups {groups}")
        patients.append(
            PatientFrames(
                patient=patient,
                group=groups[0] if groups else None,
                frames=frames,
                ed_frame=1 if "ED" in phased else 0,
                es_frame=frames.index(phased["ES"]) + 1 if "ES" in phased else 0,
            )
        )
    return patients
