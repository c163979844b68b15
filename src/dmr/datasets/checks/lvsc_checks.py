"""The LVSC checks, walking each study the way :mod:`dmr.datasets.lvsc` reads it.

Every study's DICOMs and myocardium masks, frame by frame; ES is found from the cavity sizes when
every mask reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import lvsc
from dmr.datasets.checks.report import Checker, phase_record
from dmr.datasets.lvsc import CONSENSUS_FOLDER
from dmr.errors import DatasetError
from dmr.labels import LV_MYOCARDIUM


@dataclass(frozen=True)
class _LvscFrameFacts:
    """What checking one LVSC frame yielded; ``None`` where its files were unusable."""

    image: sitk.Image | None
    cavity_voxels: int | None
    label_values: list[int]


def _check_lvsc_frame(checker: Checker, files: lvsc.StudyFiles, frame: int) -> _LvscFrameFacts:
    """Check every DICOM and mask of one frame; the stacked image and cavity size when usable."""
    slices: list[lvsc.DicomSlice] = []
    masks: list[np.ndarray] = []
    images_ok = masks_ok = True
    for key in files.slice_keys(frame):
        dicom_path = files.dicoms[key]
        dicom = None
        if checker.hash_file(dicom_path):
            try:
                dicom = lvsc.read_dicom_slice(dicom_path)
                checker.check_finite(dicom.pixels, dicom_path)
                slices.append(dicom)
            except DatasetError as exc:
                checker.problem(str(exc))
        mask_path = files.masks.get(key)
        mask = None
        if mask_path is not None and checker.hash_file(mask_path):
            try:
                mask = lvsc.read_mask(mask_path)
                masks.append(mask)
            except DatasetError as exc:
                checker.problem(str(exc))
        if dicom is not None and mask is not None and mask.shape != dicom.pixels.shape:
            checker.problem(
                f"{mask_path}: mask shape {mask.shape} differs from the image's "
                f"{dicom.pixels.shape} ({dicom_path.name})"
            )
        images_ok = images_ok and dicom is not None
        masks_ok = masks_ok and mask is not None
    label_values = [0, LV_MYOCARDIUM] if any(m.any() for m in masks) else [0]
    cavity = lvsc.cavity_voxels(masks) if masks_ok and files.masks else None
    if not images_ok:
        return _LvscFrameFacts(None, cavity, label_values)
    try:
        order = lvsc.spatial_order(slices)
        image = lvsc.stack_slices([slices[i] for i in order])
    except DatasetError as exc:
        checker.problem(str(exc))
        image = None
    return _LvscFrameFacts(image, cavity, label_values)


def _check_lvsc_study(
    checker: Checker, study_dir: Path, split: str, mask_dir: Path | None = None
) -> None:
    try:
        files = lvsc.index_study_files(study_dir, mask_dir)
    except DatasetError as exc:
        checker.problem(str(exc))
        return
    structural = lvsc.study_problems(
        files, require_masks=split == "training" or mask_dir is not None
    )
    for message in structural:
        checker.problem(message)
    if not files.dicoms:
        return
    record: dict[str, Any] = {
        "id": files.study_id,
        "split": split,
        "group": None,
        "ed_frame": 1,
        "es_frame": None,
        "n_frames": len(files.phases),
        "phases": {},
    }
    checker.report.cases.append(record)
    facts = {phase + 1: _check_lvsc_frame(checker, files, phase + 1) for phase in files.phases}
    if not files.masks:
        return  # an unlabelled (validation) study: no ES, no labelled phase
    cavities = {f: x.cavity_voxels for f, x in facts.items() if x.cavity_voxels is not None}
    if structural or len(cavities) != len(facts):
        return  # ES is only defined when every frame's masks could be read
    es_frame = lvsc.end_systolic_frame(cavities)
    record["es_frame"] = es_frame
    for phase_name, frame in (("ED", 1), ("ES", es_frame)):
        image = facts[frame].image
        if image is not None:
            record["phases"][phase_name] = phase_record(frame, image, facts[frame].label_values)


def check_lvsc(checker: Checker, root: Path) -> None:
    folders = [(root, "training")]
    if (root / "validation").is_dir():
        folders.append((root / "validation", "validation"))
    # Consensus masks of the validation split kept under the root (the phantoms' layout) are
    # checked with their studies; a consensus folder elsewhere is checked when it is read.
    consensus = root / CONSENSUS_FOLDER
    for folder, split in folders:
        for study_dir in lvsc.list_study_dirs(folder):
            checker.visit_case(study_dir)
            mask_dir = (
                consensus / study_dir.name if split == "validation" and consensus.is_dir() else None
            )
            _check_lvsc_study(checker, study_dir, split, mask_dir)
