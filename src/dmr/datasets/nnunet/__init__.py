"""Reader of nnU-Net's raw dataset format (v2 ``DatasetXXX_Name``, v1 ``TaskXX_Name``) into cases.

Layout (``split`` = ``training`` or ``testing``)::

    <root>/dataset.json                    label names and values, channels, file_ending
    <root>/imagesTr/{case}_0000{ending}    one 3-D (or 2-D) image per nnU-Net case
    <root>/labelsTr/{case}{ending}         its reference, in dataset.json's label values
    <root>/imagesTs/{case}_0000{ending}    held-out images (optional)
    <root>/labelsTs/{case}{ending}         their references (optional, some may be missing)

Conversion choices, stated once:

* **Labels.** dataset.json names the labels (v2 ``{"RV": 1}``, v1 ``{"1": "RV"}``); the option
  ``labels`` maps every non-background name to ``rv``, ``myo``, ``lv`` or ``background``, so a
  dataset that annotates some structures (or others) is read without guessing. Region-based
  labels (a list of values) overlap and cannot become the project's one-value-per-voxel labels.
* **Studies.** An nnU-Net case is one volume; a project :class:`Case` is a patient's study. The
  option ``case_pattern`` (a regex with groups ``patient`` and optional ``phase``) or ``phases``
  (a CSV ``case, patient, phase[, group]``, e.g. from ACDC's Info.cfg for Dataset027's
  ``patient001_frame01``) groups cases by patient; without either, each case is its own patient.
  Frames are ED, ES, then the others by case id; an unknown ED/ES is frame ``0`` (so
  ``Case.load_phase`` raises). ``info["frame_cases"]`` lists each frame's nnU-Net case id.
* **Orientation.** A 2-D image becomes a one-slice volume; a volume is permuted
  (``sitk.PermuteAxes``: same physical geometry) so that z is its single-slice axis or, else,
  the axis of largest spacing, since the networks slice along z.
* **One channel.** The method reads one cine channel: more channels, 4-D or vector images fail.

Named steps: :func:`parse_dataset_json` → :func:`label_lut` → :func:`list_split` →
:func:`case_roles` → :func:`group_patients` → :func:`load_frame` (:func:`as_volume`,
:func:`slice_axis`, :func:`remap_label`). Each step collects problems into a list; the reader
raises them, :mod:`dmr.datasets.checks.nnunet_checks` reports them all.

The package is split by idea: ``description`` (dataset.json and the label lookup table),
``listing`` (split folders, case files, each case's patient and phase, grouping by patient)
and ``volumes`` (a case file loaded, oriented and its labels remapped); this module keeps the
options, the structures they annotate and the reader itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from dmr.datasets.case import Case
from dmr.datasets.nnunet.description import (
    DATASET_JSON,
    DEFAULT_FILE_ENDING,
    TARGETS,
    DatasetDescription,
    label_lut,
    parse_dataset_json,
)
from dmr.datasets.nnunet.listing import (
    FOLDERS,
    PHASE_COLUMNS,
    SPLITS,
    CaseFiles,
    CaseRole,
    PatientFrames,
    case_roles,
    file_stem,
    group_patients,
    list_labels,
    list_split,
    phases_path,
    read_phases_csv,
    split_folders,
)
from dmr.datasets.nnunet.volumes import as_volume, load_frame, orient, remap_label, slice_axis
from dmr.errors import DatasetError
from dmr.labels import STRUCTURE_LABELS

FORMAT = "nnunet"
OPTION_KEYS: tuple[str, ...] = ("labels", "case_pattern", "phases")

__all__ = [
    "DATASET_JSON",
    "DEFAULT_FILE_ENDING",
    "FOLDERS",
    "FORMAT",
    "OPTION_KEYS",
    "PHASE_COLUMNS",
    "SPLITS",
    "TARGETS",
    "CaseFiles",
    "CaseRole",
    "DatasetDescription",
    "PatientFrames",
    "as_volume",
    "case_roles",
    "file_stem",
    "group_patients",
    "label_lut",
    "list_labels",
    "list_split",
    "load_frame",
    "missing_root_message",
    "option_problems",
    "orient",
    "parse_dataset_json",
    "phases_path",
    "read_cases",
    "read_phases_csv",
    "remap_label",
    "slice_axis",
    "split_folders",
    "structures",
]


def missing_root_message(root: Path) -> str:
    """What an nnU-Net raw dataset folder holds; used when the folder is missing."""
    return (
        f"{root}: nnU-Net raw dataset folder not found. Point the dataset at an nnU-Net raw "
        "dataset folder (e.g. nnUNet_raw/Dataset027_ACDC, as nnU-Net's conversion scripts write "
        "it) holding dataset.json, imagesTr/{case}_0000.nii.gz and labelsTr/{case}.nii.gz "
        "(optionally imagesTs/ and labelsTs/)."
    )


def _raise(problems: list[str]) -> None:
    if problems:
        raise DatasetError("; ".join(problems))


def option_problems(options: Mapping[str, Any]) -> list[str]:
    """Problems of the reader's options (config ``datasets.<name>.reader``), one line each."""
    if not isinstance(options, Mapping):
        return [f"reader: expected a mapping of options, got {type(options).__name__}"]
    known, targets = ", ".join(OPTION_KEYS), ", ".join(TARGETS)
    unknown = [key for key in options if key not in OPTION_KEYS]
    problems = [f"reader.{key}: unknown option (known: {known})" for key in unknown]
    labels = options.get("labels")
    if labels is None:
        problems.append(f"reader.labels: required: dataset.json label name -> one of {targets}")
    elif not isinstance(labels, Mapping) or not labels:
        problems.append(f"reader.labels: expected a non-empty mapping, got {labels!r}")
    else:
        for name, target in labels.items():
            if not isinstance(name, str) or not name.strip():
                problems.append(f"reader.labels: label name {name!r} is not a non-empty string")
            elif target not in TARGETS:
                problems.append(f"reader.labels.{name}: {target!r} is not one of {targets}")
        if not any(target in STRUCTURE_LABELS for target in labels.values()):
            problems.append("reader.labels: maps no label to rv, myo or lv")
    pattern, phases = options.get("case_pattern"), options.get("phases")
    if pattern is not None:
        problems += _pattern_problems(pattern)
    if phases is not None and (not isinstance(phases, str) or not phases.strip()):
        problems.append(f"reader.phases: expected the path of a CSV file, got {phases!r}")
    if pattern is not None and phases is not None:
        problems.append("reader.case_pattern, reader.phases: give one of them, not both")
    return problems


def _pattern_problems(pattern: Any) -> list[str]:
    if not isinstance(pattern, str):
        return [f"reader.case_pattern: expected a regular expression string, got {pattern!r}"]
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [f"reader.case_pattern: not a valid regular expression ({exc})"]
    if "patient" not in compiled.groupindex:
        return ["reader.case_pattern: needs a named group (?P<patient>...)"]
    return []


def structures(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The project structures the label map annotates, in the order rv, myo, lv."""
    _raise([f"reader options: {p}" for p in option_problems(options)])
    mapped = set(options["labels"].values())
    return tuple(s for s in STRUCTURE_LABELS if s in mapped)


def read_cases(
    root: Path, split: str = "training", options: Mapping[str, Any] | None = None
) -> list[Case]:
    """List one split's studies (one per patient), sorted by patient; frames load lazily."""
    root, options = Path(root), options or {}
    problems = [f"reader options: {p}" for p in option_problems(options)]
    _raise(problems)
    split_folders(root, split)
    if not root.is_dir():
        raise DatasetError(missing_root_message(root))
    description = parse_dataset_json(root, problems)
    _raise(problems)
    assert description is not None
    lut = label_lut(description, options["labels"], problems)
    files = list_split(root, split, description.file_ending, problems)
    roles = case_roles(root, files, options, problems)
    patients = group_patients(files, roles, problems)
    _raise(problems)
    return [
        Case(
            case_id=p.patient,
            dataset_format=FORMAT,
            group=p.group,
            ed_frame=p.ed_frame,
            es_frame=p.es_frame,
            n_frames=len(p.frames),
            labelled_frames=tuple(i for i, f in enumerate(p.frames, 1) if f.label is not None),
            path=p.frames[0].image,
            loader=partial(load_frame, p.frames, lut),
            info={"frame_cases": ",".join(f.case_id for f in p.frames), "split": split},
        )
        for p in patients
    ]
