"""Reader of the M&Ms challenge layout (Campello et al., 2021) into :class:`dmr.datasets.Case`.

Layout of the open dataset (``<root>`` is the unpacked ``OpenDataset`` folder)::

    <root>/211230_M&Ms_Dataset_information_diagnosis_opendataset.csv   one row per subject
    <root>/Training/Labeled/<code>/<code>_sa.nii.gz       4-D short-axis cine (x, y, z, t)
    <root>/Training/Labeled/<code>/<code>_sa_gt.nii.gz    4-D labels, only ED and ES annotated
    <root>/Training/Unlabeled/<code>/<code>_sa.nii.gz     no labels (not read)
    <root>/Validation/<code>/...    <root>/Testing/<code>/...   (same files as Labeled)

The CSV (``External code, VendorName, Vendor, Centre, ED, ES`` and, in the 2021 file,
``Pathology, Age, Sex, Height, Weight``; often a leading unnamed index column) gives ED/ES as
0-based frame indices; the project's frames are 1-based. M&Ms labels are 1 LV cavity,
2 myocardium, 3 RV cavity; they are remapped to the project's 3, 2, 1 on load.

Steps: :func:`find_info_csv` → :func:`read_info_csv` → :func:`split_dir` /
:func:`list_subject_dirs` → :func:`find_subject_files` → :func:`load_frame` (one 3-D frame read
out of each 4-D file by :func:`read_frame`, labels converted by :func:`convert_label`).
:mod:`dmr.datasets.checks.mnms_checks` reuses them, so checker and reader agree.

The package is split by idea: ``info`` (the information CSV), ``layout`` (split and subject
folders, a subject's files) and ``frames`` (one frame of a 4-D file, label conversion); this
module keeps the options and the cases built from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from dmr.datasets.case import Case
from dmr.datasets.mnms.frames import (
    MNMS_LABEL_VALUES,
    MNMS_TO_PROJECT,
    convert_label,
    empty_frame_problem,
    load_frame,
    read_frame,
    time_points,
)
from dmr.datasets.mnms.info import (
    DEFAULT_GROUP,
    GROUP_KINDS,
    INFO_CSV,
    PATHOLOGY_COLUMN,
    REQUIRED_COLUMNS,
    SubjectInfo,
    find_info_csv,
    load_info,
    read_info_csv,
)
from dmr.datasets.mnms.layout import (
    SOURCE_URL,
    SPLIT_FOLDERS,
    SPLITS,
    SubjectFiles,
    find_subject_files,
    labelled_subject_dirs,
    layout_hint,
    list_subject_dirs,
    missing_root_message,
    split_dir,
)
from dmr.errors import DatasetError

FORMAT = "mnms"
#: Reader options (config ``datasets.<name>.reader``).
OPTION_KEYS: tuple[str, ...] = ("info", "group")

__all__ = [
    "DEFAULT_GROUP",
    "FORMAT",
    "GROUP_KINDS",
    "INFO_CSV",
    "MNMS_LABEL_VALUES",
    "MNMS_TO_PROJECT",
    "OPTION_KEYS",
    "PATHOLOGY_COLUMN",
    "REQUIRED_COLUMNS",
    "SOURCE_URL",
    "SPLITS",
    "SPLIT_FOLDERS",
    "SubjectFiles",
    "SubjectInfo",
    "convert_label",
    "empty_frame_problem",
    "find_info_csv",
    "find_subject_files",
    "labelled_subject_dirs",
    "layout_hint",
    "list_subject_dirs",
    "load_frame",
    "load_info",
    "missing_root_message",
    "option_problems",
    "read_case",
    "read_cases",
    "read_frame",
    "read_info_csv",
    "split_dir",
    "time_points",
]


def option_problems(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with the reader's options, one line each (empty when they are usable)."""
    problems = [
        f"unknown M&Ms reader option {key!r}; known: {list(OPTION_KEYS)}"
        for key in options
        if key not in OPTION_KEYS
    ]
    info = options.get("info")
    if info is not None and (not isinstance(info, str | Path) or not str(info).strip()):
        problems.append(f"info must be the path of the information CSV, got {info!r}")
    group = options.get("group", DEFAULT_GROUP)
    if group not in GROUP_KINDS:
        problems.append(f"group must be one of {list(GROUP_KINDS)}, got {group!r}")
    return problems


def _checked_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    problems = option_problems(options)
    if problems:
        raise DatasetError("M&Ms reader options: " + "; ".join(problems))
    return options


def read_case(subject_dir: Path, subject: SubjectInfo, csv_path: Path, group_kind: str) -> Case:
    """One case: CSV metadata and file headers now, image data on demand."""
    files = find_subject_files(subject_dir)
    if files.cine is None:
        raise DatasetError(f"{subject_dir}: missing {subject_dir.name}_sa.nii.gz")
    if files.label is None:
        raise DatasetError(f"{subject_dir}: missing {subject_dir.name}_sa_gt.nii.gz")
    size = time_points(files.cine)
    label_size = time_points(files.label)
    if label_size != size:
        raise DatasetError(f"{files.label}: size {label_size} differs from the cine's {size}")
    n_frames = size[3]
    for phase, index in (("ED", subject.ed), ("ES", subject.es)):
        if index >= n_frames:
            raise DatasetError(
                f"{csv_path}: {subject.code} {phase} = {index} outside the cine "
                f"{files.cine.name} (frames 0..{n_frames - 1})"
            )
    ed, es = subject.ed + 1, subject.es + 1
    return Case(
        case_id=subject.code,
        dataset_format=FORMAT,
        group=subject.group(group_kind),
        ed_frame=ed,
        es_frame=es,
        n_frames=n_frames,
        labelled_frames=tuple(sorted({ed, es})),
        path=subject_dir,
        loader=partial(load_frame, files, {es: "ES", ed: "ED"}),
        info=subject.info(),
        cine_path=files.cine,
    )


def read_cases(
    root: Path, split: str = "training", options: Mapping[str, Any] | None = None
) -> list[Case]:
    """List the labelled cases of one M&Ms split, sorted by subject code; frames load lazily."""
    root = Path(root)
    options = _checked_options(options)
    folder = split_dir(root, split)
    csv_path, subjects = load_info(root, options)
    subject_dirs = labelled_subject_dirs(folder, split)
    if not subject_dirs:
        raise DatasetError(
            f"{folder}: no labelled M&Ms subject folders. " + missing_root_message(root)
        )
    cases = []
    for subject_dir in subject_dirs:
        subject = subjects.get(subject_dir.name)
        if subject is None:
            raise DatasetError(
                f"{subject_dir}: subject {subject_dir.name} has no row in {csv_path}"
            )
        cases.append(read_case(subject_dir, subject, csv_path, options.get("group", DEFAULT_GROUP)))
    return cases
