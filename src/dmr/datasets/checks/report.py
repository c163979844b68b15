"""What a check found (``CheckReport``) and the ``Checker`` that fills it during a walk.

Both formats' checks share them: the checker records problems and the sha256 manifest and decodes
images in full; ``phase_record`` is the per-phase fact a case's record keeps.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from dmr.datasets import acdc
from dmr.datasets.checks.nifti import HASH_CHUNK, nifti_payload_problem
from dmr.errors import DatasetError

log = logging.getLogger(__name__)


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
        """Number of cases per clinical group (``"unknown"`` for a case without one); empty when
        no case has a group (LVSC has none), so no one reads "unknown 5" as missing metadata."""
        if not any(case["group"] for case in self.cases):
            return {}
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
        groups = self.groups()
        group_text = (
            "groups: " + ", ".join(f"{g} {n}" for g, n in groups.items()) if groups else "no groups"
        )
        n_phases = sum(len(case["phases"]) for case in self.cases)
        ranges = self.spacing_ranges()
        spacing_text = ", ".join(
            f"{axis} {lo:g}-{hi:g}" for axis, r in ranges.items() if r for lo, hi in [r]
        )
        return (
            f"{len(self.cases)} cases ({split_text}); {group_text}; "
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


class Checker:
    """Collects problems and file hashes while a dataset is walked."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        self._case_folders: dict[str, Path] = {}

    def problem(self, message: str) -> None:
        log.debug("problem: %s", message)
        self.report.problems.append(message)

    def visit_case(self, case_dir: Path) -> None:
        """Note that ``case_dir`` is being checked; its id met in another split is a problem,
        since the folds and the result files key cases by id alone."""
        first = self._case_folders.setdefault(case_dir.name, case_dir)
        if first != case_dir:
            self.problem(f"{case_dir}: duplicate case id {case_dir.name} (also {first})")
        log.debug("checking %s", case_dir)

    def hash_file(self, path: Path) -> bool:
        """Record ``path``'s sha256 in the manifest; a problem (and False) when unreadable."""
        digest = hashlib.sha256()
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(HASH_CHUNK):
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


def phase_record(frame: int, image: sitk.Image, label_values: list[int]) -> dict[str, Any]:
    return {
        "frame": frame,
        "shape": list(image.GetSize()),
        "spacing": [round(float(s), 6) for s in image.GetSpacing()],
        "label_values": label_values,
    }
