"""The M&Ms checks, walking each subject the way :mod:`dmr.datasets.mnms` reads it.

The information CSV, then every labelled subject folder of the splits (``Training/Labeled``,
``Validation``, ``Testing``): its 4-D cine and 4-D labels decoded in full, their geometry, the
label values, the CSV row and that the ED/ES label frames are annotated. Empty label frames other
than ED/ES are normal (M&Ms annotates two phases). CSV rows without a folder are not problems:
the CSV lists the unlabelled subjects and those of every split too. ``Training/Unlabeled`` is
not read by the pipeline, so it is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import acdc, mnms
from dmr.datasets.checks.report import Checker, phase_record
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch


def _check_info(
    checker: Checker, root: Path, options: Mapping[str, Any]
) -> tuple[Path | None, dict[str, mnms.SubjectInfo]]:
    """The information CSV's path and rows (empty when unusable, after reporting why)."""
    try:
        path = mnms.find_info_csv(root, options)
    except DatasetError as exc:
        checker.problem(str(exc))
        return None, {}
    if not checker.hash_file(path):
        return path, {}
    rows, problems, has_pathology = mnms.read_info_csv(path)
    for problem in problems:
        checker.problem(problem)
    if options.get("group", mnms.DEFAULT_GROUP) == "pathology" and rows and not has_pathology:
        checker.problem(f"{path}: no {mnms.PATHOLOGY_COLUMN} column, needed by the option group")
    return path, rows


def _read_4d(checker: Checker, path: Path) -> sitk.Image | None:
    image = checker.read_nifti(path)
    if image is not None and image.GetDimension() != 4:
        checker.problem(f"{path}: expected a 4-D (x, y, z, t) image, got size {image.GetSize()}")
        return None
    return image


def _label_frames(checker: Checker, path: Path, cine: sitk.Image | None) -> np.ndarray | None:
    """The labels (t, z, y, x) in the M&Ms convention when readable, checked against the cine."""
    label = _read_4d(checker, path)
    if label is None:
        return None
    array = sitk.GetArrayFromImage(label)
    unexpected = [v for v in np.unique(array).tolist() if v not in mnms.MNMS_LABEL_VALUES]
    if unexpected:
        checker.problem(
            f"{path}: label values {unexpected} outside the M&Ms {list(mnms.MNMS_LABEL_VALUES)}"
        )
        return None
    if cine is not None:
        mismatch = geometry_mismatch(cine, label, "cine")
        if mismatch is not None:
            checker.problem(f"{path}: geometry mismatch with its cine: {mismatch}")
            return None
    return array.astype(np.uint8)


def _phase_frames(
    checker: Checker, subject: mnms.SubjectInfo, csv_path: Path | None, n_frames: int | None
) -> dict[int, str]:
    """ED/ES frame (1-based) -> phase, for the frames inside the cine."""
    phases: dict[int, str] = {}
    if subject.ed == subject.es:
        checker.problem(f"{csv_path}: {subject.code} ED and ES are the same frame ({subject.ed})")
    for phase, index in (("ES", subject.es), ("ED", subject.ed)):
        if n_frames is not None and index >= n_frames:
            checker.problem(
                f"{csv_path}: {subject.code} {phase} = {index} outside the cine "
                f"(frames 0..{n_frames - 1})"
            )
            continue
        phases[index + 1] = phase
    return phases


def _check_subject(
    checker: Checker,
    subject_dir: Path,
    split: str,
    rows: Mapping[str, mnms.SubjectInfo],
    csv_path: Path | None,
    group_kind: str,
) -> None:
    code = subject_dir.name
    files = mnms.find_subject_files(subject_dir)
    subject = rows.get(code)
    if subject is None and csv_path is not None:
        checker.problem(f"{subject_dir}: subject {code} has no row in {csv_path}")
    record: dict[str, Any] = {
        "id": code,
        "split": split,
        "group": subject.group(group_kind) if subject else None,
        "vendor": subject.vendor if subject else None,
        "centre": subject.centre if subject else None,
        "ed_frame": subject.ed + 1 if subject else None,
        "es_frame": subject.es + 1 if subject else None,
        "n_frames": None,
        "labelled_frames": None,
        "phases": {},
    }
    checker.report.cases.append(record)
    cine = None
    if files.cine is None:
        checker.problem(f"{subject_dir}: missing {code}_sa.nii.gz")
    else:
        cine = _read_4d(checker, files.cine)
    n_frames = cine.GetSize()[3] if cine is not None else None
    record["n_frames"] = n_frames
    labels = None
    if files.label is None:
        checker.problem(f"{subject_dir}: missing {code}_sa_gt.nii.gz")
    else:
        labels = _label_frames(checker, files.label, cine)
    phases = _phase_frames(checker, subject, csv_path, n_frames) if subject else {}
    if labels is None or files.label is None:
        return
    annotated = [int(t) + 1 for t in np.flatnonzero(labels.reshape(len(labels), -1).any(axis=1))]
    record["labelled_frames"] = annotated
    for frame, phase in sorted(phases.items()):
        if frame not in annotated:
            checker.problem(f"{subject_dir}: {mnms.empty_frame_problem(files.label, frame, phase)}")
            continue
        if cine is not None:
            image = acdc.extract_frame(cine, frame, files.cine or subject_dir)
            values = np.unique(mnms.MNMS_TO_PROJECT[labels[frame - 1]]).tolist()
            record["phases"][phase] = phase_record(frame, image, [int(v) for v in values])


def check_mnms(checker: Checker, root: Path, options: Mapping[str, Any]) -> None:
    """Check an M&Ms folder: every problem reported, nothing written."""
    csv_path, rows = _check_info(checker, root, options)
    group_kind = options.get("group", mnms.DEFAULT_GROUP)
    training = root.joinpath(*mnms.SPLIT_FOLDERS["training"])
    if not training.is_dir():
        checker.problem(f"{training}: M&Ms training folder missing. " + mnms.layout_hint(root))
    for split in mnms.SPLITS:
        folder = root.joinpath(*mnms.SPLIT_FOLDERS[split])
        if not folder.is_dir():
            continue
        for subject_dir in mnms.labelled_subject_dirs(folder, split):
            checker.visit_case(subject_dir)
            _check_subject(checker, subject_dir, split, rows, csv_path, group_kind)
