"""The ACDC checks, walking each case the way :mod:`dmr.datasets.acdc` reads it.

Every case folder of the splits: its ``Info.cfg``, cine, frame images and references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import acdc
from dmr.datasets.checks.report import Checker, phase_record
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch
from dmr.labels import LABEL_VALUES


def _check_acdc_label(checker: Checker, path: Path, image: sitk.Image | None) -> list[int] | None:
    """Check one reference file; its label values when readable."""
    label = checker.read_nifti(path)
    if label is None:
        return None
    values = np.unique(sitk.GetArrayViewFromImage(label)).tolist()
    unexpected = [v for v in values if v not in LABEL_VALUES]
    if unexpected:
        checker.problem(f"{path}: label values {unexpected} outside {list(LABEL_VALUES)}")
    if image is not None:
        mismatch = geometry_mismatch(image, label)
        if mismatch is not None:
            checker.problem(f"{path}: geometry mismatch with its image: {mismatch}")
    return [int(v) for v in values if float(v).is_integer()]


def _check_acdc_cine(checker: Checker, path: Path, n_frames: int | None) -> None:
    cine = checker.read_nifti(path)
    if cine is None:
        return
    if cine.GetDimension() != 4:
        checker.problem(f"{path}: expected a 4-D (x, y, z, t) image, got size {cine.GetSize()}")
    elif n_frames is not None and cine.GetSize()[3] != n_frames:
        checker.problem(f"{path}: {cine.GetSize()[3]} time points but Info.cfg NbFrame {n_frames}")


def _check_acdc_case(checker: Checker, case_dir: Path, split: str) -> None:
    cfg_path = case_dir / "Info.cfg"
    metadata: acdc.CaseMetadata | None = None
    info: dict[str, str] = {}
    if checker.hash_file(cfg_path):
        try:
            info = acdc.parse_info(cfg_path)
            metadata = acdc.parse_case_metadata(info, cfg_path)
        except DatasetError as exc:
            checker.problem(str(exc))
    try:
        files = acdc.find_case_files(case_dir)
    except DatasetError as exc:
        checker.problem(str(exc))
        return
    n_frames = metadata.n_frames if metadata else None
    record: dict[str, Any] = {
        "id": case_dir.name,
        "split": split,
        "group": metadata.group if metadata else info.get("Group") or None,
        "ed_frame": metadata.ed_frame if metadata else None,
        "es_frame": metadata.es_frame if metadata else None,
        "n_frames": n_frames,
        "phases": {},
    }
    checker.report.cases.append(record)
    if files.cine is None:
        checker.problem(f"{case_dir}: missing {case_dir.name}_4d.nii.gz")
    else:
        _check_acdc_cine(checker, files.cine, n_frames)

    phase_of = {metadata.ed_frame: "ED", metadata.es_frame: "ES"} if metadata else {}
    if metadata and metadata.ed_frame == metadata.es_frame:
        checker.problem(f"{cfg_path}: ED and ES are the same frame ({metadata.ed_frame})")
    for frame in sorted(files.images.keys() | files.labels.keys() | phase_of.keys()):
        name = f"{case_dir.name}_frame{frame:02d}"
        if n_frames is not None and not 1 <= frame <= n_frames:
            checker.problem(f"{case_dir}: files for frame {frame} outside 1..NbFrame ({n_frames})")
        image_path = files.images.get(frame)
        image = None
        if image_path is None:
            checker.problem(f"{case_dir / (name + '.nii.gz')}: missing file")
        else:
            image = checker.read_nifti(image_path)
            if image is not None and image.GetDimension() != 3:
                checker.problem(f"{image_path}: expected a 3-D image, got size {image.GetSize()}")
                image = None
        label_path = files.labels.get(frame)
        if label_path is None:
            if split == "training" and frame in phase_of:
                checker.problem(f"{case_dir / (name + '_gt.nii.gz')}: missing file")
            continue
        label_values = _check_acdc_label(checker, label_path, image)
        if frame in phase_of and image is not None and label_values is not None:
            record["phases"][phase_of[frame]] = phase_record(frame, image, label_values)


def check_acdc(checker: Checker, root: Path) -> None:
    split_dirs = [root / split for split in acdc.SPLITS if (root / split).is_dir()]
    if not (root / "training").is_dir():
        checker.problem(
            f"{root / 'training'}: ACDC training folder missing. " + acdc.missing_root_message(root)
        )
    for folder in split_dirs:
        for case_dir in acdc.list_case_dirs(folder):
            checker.visit_case(case_dir)
            _check_acdc_case(checker, case_dir, folder.name)
