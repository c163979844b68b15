"""The nnU-Net raw-format checks, walking the dataset the way :mod:`dmr.datasets.nnunet` reads it.

dataset.json against the label map, the phases CSV or case pattern, then every image and
reference of ``imagesTr``/``labelsTr`` and ``imagesTs`` (with ``labelsTs`` when present), each
decoded in full. A missing ``labelsTs`` is not a problem: held-out images may come without
references (nnU-Net's Dataset027 conversion of ACDC writes none).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import nnunet
from dmr.datasets.acdc import read_image
from dmr.datasets.checks.report import Checker, phase_record
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch

log = logging.getLogger(__name__)

_NIFTI_ENDINGS = (".nii", ".nii.gz")


def _report(checker: Checker, problems: list[str]) -> None:
    """Report the problems a reader step collected, once each (a phases CSV serves two splits)."""
    for problem in problems:
        if problem not in checker.report.problems:
            checker.problem(problem)
    problems.clear()


def _read_volume(checker: Checker, path: Path) -> sitk.Image | None:
    """Hash and fully decode one file as a 3-D volume; None (and a problem) when unusable."""
    if path.name.lower().endswith(_NIFTI_ENDINGS):
        image = checker.read_nifti(path)
    elif checker.hash_file(path):
        try:
            image = read_image(path)
        except DatasetError as exc:
            checker.problem(str(exc))
            return None
        checker.check_finite(sitk.GetArrayViewFromImage(image), path)
    else:
        return None
    if image is None:
        return None
    try:
        return nnunet.as_volume(image, path)
    except DatasetError as exc:
        checker.problem(str(exc))
        return None


def _check_label(
    checker: Checker,
    files: nnunet.CaseFiles,
    image: sitk.Image | None,
    description: nnunet.DatasetDescription,
    lut: Mapping[int, int],
) -> list[int] | None:
    """Check one reference; its values in the project convention when it is usable."""
    assert files.label is not None
    label = _read_volume(checker, files.label)
    if label is None:
        return None
    values = np.unique(sitk.GetArrayViewFromImage(label)).tolist()
    declared = set(description.labels.values())
    undeclared = [v for v in values if v not in declared]
    if undeclared:
        checker.problem(
            f"{files.label}: label values {undeclared} not declared in dataset.json "
            f"(declared: {sorted(declared)})"
        )
    if image is not None:
        mismatch = geometry_mismatch(image, label)
        if mismatch is not None:
            checker.problem(f"{files.label}: geometry mismatch with its image: {mismatch}")
            return None
    return sorted({lut[v] for v in values if v in lut})


def _check_patient(
    checker: Checker,
    patient: nnunet.PatientFrames,
    split: str,
    description: nnunet.DatasetDescription,
    lut: Mapping[int, int],
) -> None:
    record: dict[str, Any] = {
        "id": patient.patient,
        "split": split,
        "group": patient.group,
        "ed_frame": patient.ed_frame or None,
        "es_frame": patient.es_frame or None,
        "n_frames": len(patient.frames),
        "frame_cases": [f.case_id for f in patient.frames],
        "phases": {},
    }
    checker.report.cases.append(record)
    phase_of = {patient.ed_frame: "ED", patient.es_frame: "ES"}
    for number, files in enumerate(patient.frames, start=1):
        image = _read_volume(checker, files.image)
        if files.label is None:
            continue
        values = _check_label(checker, files, image, description, lut)
        if image is not None and values is not None:
            oriented = nnunet.orient(image, nnunet.slice_axis(image))
            key = phase_of.get(number, files.case_id)
            record["phases"][key] = phase_record(number, oriented, values)


def _check_split(
    checker: Checker,
    root: Path,
    split: str,
    description: nnunet.DatasetDescription,
    lut: Mapping[int, int],
    options: Mapping[str, Any],
) -> None:
    images_dir, labels_dir = nnunet.split_folders(root, split)
    ending = description.file_ending
    problems: list[str] = []
    files = nnunet.list_split(root, split, ending, problems)
    roles = nnunet.case_roles(root, files, options, problems)
    patients = nnunet.group_patients(files, roles, problems)
    _report(checker, problems)
    listed = {f.case_id for f in files}
    for case_id, path in nnunet.list_labels(labels_dir, ending).items():
        if case_id not in listed and images_dir.is_dir():
            checker.problem(f"{path}: a label without its image {case_id}_0000{ending}")
    count = description.n_training
    if split == "training" and count is not None and files and count != len(files):
        checker.problem(
            f"{description.path}: numTraining is {count} but {images_dir} holds "
            f"{len(files)} image(s)"
        )
    for patient in patients:
        checker.visit_case(images_dir / patient.patient)
        _check_patient(checker, patient, split, description, lut)


def check_nnunet(checker: Checker, root: Path, options: Mapping[str, Any]) -> None:
    """Check an nnU-Net raw dataset folder read with the reader's ``options``; every problem."""
    problems: list[str] = []
    json_path = root / nnunet.DATASET_JSON
    if json_path.is_file():
        checker.hash_file(json_path)
    description = nnunet.parse_dataset_json(root, problems)
    _report(checker, problems)
    if description is None:
        return
    lut = nnunet.label_lut(description, options["labels"], problems)
    _report(checker, problems)
    phases = nnunet.phases_path(root, options) if options.get("phases") is not None else None
    if phases is not None and phases.is_file() and phases.resolve().is_relative_to(root.resolve()):
        checker.hash_file(root / phases.resolve().relative_to(root.resolve()))
    for split in nnunet.SPLITS:
        images_dir, labels_dir = nnunet.split_folders(root, split)
        if split == "testing" and not images_dir.is_dir():
            continue
        if split == "testing" and not labels_dir.is_dir():
            log.info("%s: no labelsTs folder; the testing cases have no references", root)
        _check_split(checker, root, split, description, lut, options)
