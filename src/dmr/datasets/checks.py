"""Verify a raw dataset folder before anything is trained on it (``dmr check-data``).

The checker walks the same steps as the readers (:mod:`dmr.datasets.acdc`,
:mod:`dmr.datasets.lvsc`) but, instead of stopping at the first error, records **every** problem
(each naming the file and what is wrong) so that a user fixes a download in one round. It reads
every image it checks in full, because a truncated ``.nii.gz`` or DICOM only fails when its pixels
are decoded, and records the sha256 of every file it read, so a report also pins the exact data a
result was computed from. Files are only ever opened for reading.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import acdc, lvsc
from dmr.datasets.lvsc import CONSENSUS_FOLDER
from dmr.errors import DatasetError
from dmr.geometry import geometry_mismatch
from dmr.labels import LABEL_VALUES, LV_MYOCARDIUM

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


@dataclass
class CheckReport:
    """What a dataset check found: problems, per-case facts and a checksum manifest."""

    format: str
    root: Path
    problems: list[str] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the folder is usable: at least one case and no problem."""
        return not self.problems

    def groups(self) -> dict[str, int]:
        """Number of cases per clinical group (``"unknown"`` when the dataset has none)."""
        counts = Counter(case["group"] or "unknown" for case in self.cases)
        return dict(sorted(counts.items()))

    def spacing_ranges(self) -> dict[str, list[float] | None]:
        """Smallest and largest voxel spacing (mm) per axis over every checked phase."""
        spacings = [phase["spacing"] for case in self.cases for phase in case["phases"].values()]
        if not spacings:
            return {"x": None, "y": None, "z": None}
        array = np.asarray(spacings, dtype=float)
        return {
            axis: [round(float(array[:, i].min()), 4), round(float(array[:, i].max()), 4)]
            for i, axis in enumerate(("x", "y", "z"))
        }

    def summary(self) -> str:
        """One line: cases per split, groups, checked phases and spacing ranges."""
        splits = Counter(case["split"] for case in self.cases)
        split_text = ", ".join(f"{name} {n}" for name, n in sorted(splits.items())) or "none"
        group_text = ", ".join(f"{g} {n}" for g, n in self.groups().items()) or "none"
        n_phases = sum(len(case["phases"]) for case in self.cases)
        ranges = self.spacing_ranges()
        spacing_text = ", ".join(
            f"{axis} {lo:g}-{hi:g}" for axis, r in ranges.items() if r for lo, hi in [r]
        )
        return (
            f"{len(self.cases)} cases ({split_text}); groups: {group_text}; "
            f"{n_phases} labelled ED/ES phases checked; spacing mm: {spacing_text or 'n/a'}; "
            f"{len(self.manifest)} files hashed; {len(self.problems)} problem(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form of the report (``data_check.json``)."""
        return {
            "format": self.format,
            "root": str(self.root),
            "ok": self.ok,
            "problems": list(self.problems),
            "n_cases": len(self.cases),
            "cases": self.cases,
            "groups": self.groups(),
            "spacing_ranges": self.spacing_ranges(),
            "manifest": dict(sorted(self.manifest.items())),
        }


class _Checker:
    """Collects problems and file hashes while a dataset is walked."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report

    def problem(self, message: str) -> None:
        log.debug("problem: %s", message)
        self.report.problems.append(message)

    def hash_file(self, path: Path) -> bool:
        """Record ``path``'s sha256 in the manifest; a problem (and False) when unreadable."""
        digest = hashlib.sha256()
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(_HASH_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            self.problem(f"{path}: missing file")
            return False
        except OSError as exc:
            self.problem(f"{path}: unreadable file ({exc.strerror or exc})")
            return False
        self.report.manifest[path.relative_to(self.report.root).as_posix()] = digest.hexdigest()
        return True

    def read_nifti(self, path: Path) -> sitk.Image | None:
        """Hash and fully decode an image; problems for unreadable files and NaN/inf values.

        The raw payload is verified first because SimpleITK's NIfTI reader accepts a truncated
        ``.nii.gz`` (returning partly made-up pixels) and returns zeros for NaN/inf voxels.
        """
        if not self.hash_file(path):
            return None
        payload_problem = nifti_payload_problem(path)
        if payload_problem is not None:
            self.problem(payload_problem)
            return None
        try:
            image = acdc.read_image(path)
        except DatasetError as exc:
            self.problem(str(exc))
            return None
        self.check_finite(sitk.GetArrayViewFromImage(image), path)
        return image

    def check_finite(self, pixels: np.ndarray, path: Path) -> None:
        if np.issubdtype(pixels.dtype, np.floating):
            n_bad = int(np.count_nonzero(~np.isfinite(pixels)))
            if n_bad:
                self.problem(f"{path}: {n_bad} NaN/inf intensities")


#: NIfTI-1 datatype codes of floating-point voxels, with their numpy types.
_NIFTI_FLOAT_TYPES = {16: "f4", 64: "f8"}


def nifti_payload_problem(path: Path) -> str | None:
    """Read a NIfTI-1 file's voxel bytes directly: truncation, gzip damage, NaN/inf values.

    Streams the (decompressed) file in chunks, so memory stays small for 4-D cines. Returns a
    problem naming the file, or ``None``. Files that are not NIfTI-1 are left to SimpleITK.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            header = stream.read(348)
            if len(header) < 348:
                return f"{path}: corrupt NIfTI (truncated header, {len(header)} bytes)"
            endian = next((e for e in "<>" if struct.unpack(f"{e}i", header[:4])[0] == 348), None)
            if endian is None:
                return None  # not NIfTI-1 (e.g. NIfTI-2): SimpleITK's reading decides
            dims = struct.unpack(f"{endian}8h", header[40:56])
            datatype, bitpix = struct.unpack(f"{endian}2h", header[70:74])
            (vox_offset,) = struct.unpack(f"{endian}f", header[108:112])
            if not 1 <= dims[0] <= 7 or min(dims[1 : dims[0] + 1]) < 1 or bitpix % 8:
                return f"{path}: corrupt NIfTI header (dim {dims}, bitpix {bitpix})"
            expected = int(np.prod(dims[1 : dims[0] + 1], dtype=np.int64)) * (bitpix // 8)
            stream.read(max(0, int(vox_offset) - 348))
            float_type = _NIFTI_FLOAT_TYPES.get(datatype)
            item = bitpix // 8
            n_read, n_bad = 0, 0
            while n_read < expected:
                chunk = stream.read(min(_HASH_CHUNK * item, expected - n_read))
                if not chunk:
                    break
                n_read += len(chunk)
                if float_type is not None:
                    usable = len(chunk) - len(chunk) % item
                    values = np.frombuffer(chunk[:usable], dtype=np.dtype(endian + float_type))
                    n_bad += int(np.count_nonzero(~np.isfinite(values)))
    except (OSError, EOFError, zlib.error) as exc:
        return f"{path}: corrupt or truncated compressed file ({exc})"
    if n_read < expected:
        return f"{path}: corrupt NIfTI, truncated: {n_read} of {expected} voxel data bytes"
    if n_bad:
        return f"{path}: {n_bad} NaN/inf intensities"
    return None


def _phase_record(frame: int, image: sitk.Image, label_values: list[int]) -> dict[str, Any]:
    return {
        "frame": frame,
        "shape": list(image.GetSize()),
        "spacing": [round(float(s), 6) for s in image.GetSpacing()],
        "label_values": label_values,
    }


# --------------------------------------------------------------------------- ACDC
def _check_acdc_label(checker: _Checker, path: Path, image: sitk.Image | None) -> list[int] | None:
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


def _check_acdc_cine(checker: _Checker, path: Path, n_frames: int | None) -> None:
    cine = checker.read_nifti(path)
    if cine is None:
        return
    if cine.GetDimension() != 4:
        checker.problem(f"{path}: expected a 4-D (x, y, z, t) image, got size {cine.GetSize()}")
    elif n_frames is not None and cine.GetSize()[3] != n_frames:
        checker.problem(f"{path}: {cine.GetSize()[3]} time points but Info.cfg NbFrame {n_frames}")


def _check_acdc_case(checker: _Checker, case_dir: Path, split: str) -> None:
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
            record["phases"][phase_of[frame]] = _phase_record(frame, image, label_values)


def _check_acdc(checker: _Checker, root: Path) -> None:
    split_dirs = [root / split for split in acdc.SPLITS if (root / split).is_dir()]
    if not (root / "training").is_dir():
        checker.problem(
            f"{root / 'training'}: ACDC training folder missing. " + acdc.missing_root_message(root)
        )
    seen: dict[str, Path] = {}
    for folder in split_dirs:
        for case_dir in acdc.list_case_dirs(folder):
            if case_dir.name in seen:
                checker.problem(
                    f"{case_dir}: duplicate case id {case_dir.name} (also {seen[case_dir.name]})"
                )
            seen.setdefault(case_dir.name, case_dir)
            log.debug("checking %s", case_dir)
            _check_acdc_case(checker, case_dir, folder.name)


# --------------------------------------------------------------------------- LVSC
@dataclass(frozen=True)
class _LvscFrameFacts:
    """What checking one LVSC frame yielded; ``None`` where its files were unusable."""

    image: sitk.Image | None
    cavity_voxels: int | None
    label_values: list[int]


def _check_lvsc_frame(checker: _Checker, files: lvsc.StudyFiles, frame: int) -> _LvscFrameFacts:
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
    checker: _Checker, study_dir: Path, split: str, mask_dir: Path | None = None
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
            record["phases"][phase_name] = _phase_record(frame, image, facts[frame].label_values)


def _check_lvsc(checker: _Checker, root: Path) -> None:
    folders = [(root, "training")]
    if (root / "validation").is_dir():
        folders.append((root / "validation", "validation"))
    # Consensus masks of the validation split kept under the root (the phantoms' layout) are
    # checked with their studies; a consensus folder elsewhere is checked when it is read.
    consensus = root / CONSENSUS_FOLDER
    seen: dict[str, Path] = {}
    for folder, split in folders:
        for study_dir in lvsc.list_study_dirs(folder):
            if study_dir.name in seen:
                checker.problem(
                    f"{study_dir}: duplicate case id {study_dir.name} (also {seen[study_dir.name]})"
                )
            seen.setdefault(study_dir.name, study_dir)
            log.debug("checking %s", study_dir)
            mask_dir = (
                consensus / study_dir.name if split == "validation" and consensus.is_dir() else None
            )
            _check_lvsc_study(checker, study_dir, split, mask_dir)


# --------------------------------------------------------------------------- entry point
_MISSING_ROOT = {"acdc": acdc.missing_root_message, "lvsc": lvsc.missing_root_message}
_CHECKERS = {"acdc": _check_acdc, "lvsc": _check_lvsc}


def check_dataset(fmt: str, root: Path) -> CheckReport:
    """Check a raw dataset folder of format ``fmt`` and report every problem found.

    Never modifies the folder. An empty or missing folder is a problem (the message for a missing
    one says where to obtain the data); so is every unreadable, corrupt or inconsistent file.
    """
    if fmt not in _CHECKERS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {sorted(_CHECKERS)}")
    root = Path(root)
    report = CheckReport(format=fmt, root=root)
    checker = _Checker(report)
    if not root.is_dir():
        checker.problem(_MISSING_ROOT[fmt](root))
        return report
    _CHECKERS[fmt](checker, root)
    if not report.cases:
        checker.problem(f"{root}: empty dataset: no usable {fmt.upper()} case found")
    log.info("checked %s dataset %s: %d case(s)", fmt, root, len(report.cases))
    return report
