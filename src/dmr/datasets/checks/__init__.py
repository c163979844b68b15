"""Verify a raw dataset folder before anything is trained on it (``dmr check-data``).

The checker walks the same steps as the readers (:mod:`dmr.datasets.acdc`,
:mod:`dmr.datasets.lvsc`) but, instead of stopping at the first error, records **every** problem
(each naming the file and what is wrong) so that a user fixes a download in one round. It reads
every image it checks in full, because a truncated ``.nii.gz`` or DICOM only fails when its pixels
are decoded, and records the sha256 of every file it read, so a report also pins the exact data a
result was computed from. Files are only ever opened for reading.

The package is split by idea: ``nifti`` (the direct NIfTI-1 payload check), ``report``
(``CheckReport`` and the ``Checker`` that fills it), ``acdc_checks`` and ``lvsc_checks`` (one
format each); :func:`check_dataset` here dispatches on the format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dmr.datasets import acdc, lvsc
from dmr.datasets.checks.acdc_checks import check_acdc
from dmr.datasets.checks.lvsc_checks import check_lvsc
from dmr.datasets.checks.nifti import nifti_payload_problem
from dmr.datasets.checks.report import Checker, CheckReport

__all__ = ["CheckReport", "check_dataset", "nifti_payload_problem"]

log = logging.getLogger(__name__)

_MISSING_ROOT = {"acdc": acdc.missing_root_message, "lvsc": lvsc.missing_root_message}
_CHECKERS = {"acdc": check_acdc, "lvsc": check_lvsc}
#: Formats whose checks take the reader's options (their modules imported on use).
_OPTION_CHECKERS = ("nnunet", "mnms")


def check_dataset(fmt: str, root: Path, options: Mapping[str, Any] | None = None) -> CheckReport:
    """Check a raw dataset folder of format ``fmt`` and report every problem found.

    Never modifies the folder. An empty or missing folder is a problem (the message for a missing
    one says where to obtain the data); so is every unreadable, corrupt or inconsistent file.
    ``options``: the reader's options (nnU-Net, M&Ms), checked first.
    """
    if fmt not in _CHECKERS and fmt not in _OPTION_CHECKERS:
        known = sorted([*_CHECKERS, *_OPTION_CHECKERS])
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {known}")
    root = Path(root)
    report = CheckReport(format=fmt, root=root)
    checker = Checker(report)
    if fmt in _OPTION_CHECKERS:
        import importlib

        reader = importlib.import_module(f"dmr.datasets.{fmt}")
        checks = importlib.import_module(f"dmr.datasets.checks.{fmt}_checks")
        problems = reader.option_problems(options or {})
        for problem in problems:
            checker.problem(f"reader options: {problem}")
        if problems:
            return report
        if not root.is_dir():
            checker.problem(reader.missing_root_message(root))
            return report
        getattr(checks, f"check_{fmt}")(checker, root, options or {})
    else:
        if options:
            checker.problem(f"reader options: the {fmt} reader takes no options")
            return report
        if not root.is_dir():
            checker.problem(_MISSING_ROOT[fmt](root))
            return report
        _CHECKERS[fmt](checker, root)
    if not report.cases:
        checker.problem(f"{root}: empty dataset: no usable {fmt.upper()} case found")
    log.info("checked %s dataset %s: %d case(s)", fmt, root, len(report.cases))
    return report
