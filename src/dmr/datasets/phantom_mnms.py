"""Writer of rendered phantom cases in the M&Ms open-dataset layout (:mod:`dmr.datasets.mnms`).

Each case is a subject folder with the 4-D cine and a 4-D label file annotated at ED (frame 1)
and ES only, values in the M&Ms convention (1 LV, 2 myocardium, 3 RV); the dataset ends with the
2021 information CSV, leading unnamed index column included, as in the public download.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from dmr.datasets.mnms import INFO_CSV, SPLIT_FOLDERS
from dmr.datasets.phantom_writers import _cast, _volume
from dmr.labels import LV_CAVITY, LV_MYOCARDIUM, RV_CAVITY

if TYPE_CHECKING:
    from dmr.datasets.phantom import PhantomCase

#: Vendor code -> (vendor name, centre) of the M&Ms cohort (vendor B also scanned at centre 3).
VENDORS: dict[str, tuple[str, str]] = {
    "A": ("Siemens", "1"),
    "B": ("Philips", "2"),
    "C": ("GE", "4"),
    "D": ("Canon", "5"),
}
DEFAULT_VENDOR = "A"
#: Columns of the 2021 information CSV, after its unnamed index column.
CSV_COLUMNS: tuple[str, ...] = (
    "External code", "VendorName", "Vendor", "Centre", "ED", "ES",
    "Age", "Pathology", "Sex", "Height", "Weight",
)  # fmt: skip

#: Project label value -> M&Ms label value (RV 1 -> 3, myocardium 2 -> 2, LV 3 -> 1).
_PROJECT_TO_MNMS = np.zeros(256, dtype=np.uint8)
_PROJECT_TO_MNMS[[RV_CAVITY, LV_MYOCARDIUM, LV_CAVITY]] = [3, 2, 1]
_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Cine frame duration (ms) stored as the time spacing of the 4-D files.
_FRAME_MS = 30.0


def subject_code(seed: int, number: int) -> str:
    """A deterministic 6-character code like the challenge's (``A0S9V9``): ``number`` in base 36
    (3 characters, so codes sort, and cases are read, in generation order) then 3 characters
    drawn from a hash of seed and number."""
    base = len(_CODE_ALPHABET)
    if not 0 <= number < base**3:
        raise ValueError(f"M&Ms phantom case number {number} outside 0..{base**3 - 1}")
    value = int.from_bytes(hashlib.sha256(f"mnms/{seed}/{number}".encode()).digest()[:8], "big")
    digits = [(number // base**k) % base for k in (2, 1, 0)] + [
        (value // base**k) % base for k in (0, 1, 2)
    ]
    return "".join(_CODE_ALPHABET[d] for d in digits)


def write_mnms_case(
    root: Path,
    case: PhantomCase,
    *,
    number: int,
    testing: bool,
    seed: int,
    rng: np.random.Generator,
    group: str | None = None,
    vendor: str | None = None,
) -> dict[str, str]:
    """``Training/Labeled/<code>/`` (``Testing/<code>/`` when ``testing``) with the 4-D cine and
    4-D labels; returns the subject's row of the information CSV."""
    vendor = vendor or DEFAULT_VENDOR
    if vendor not in VENDORS:
        raise ValueError(f"unknown M&Ms vendor {vendor!r}; expected one of {sorted(VENDORS)}")
    code = subject_code(seed, number)
    folder = root.joinpath(*SPLIT_FOLDERS["testing" if testing else "training"], code)
    folder.mkdir(parents=True)
    images = _cast(case.images, case.dtype)
    labels = np.zeros_like(case.labels, dtype=np.uint8)
    for frame in (1, case.es_frame):
        labels[frame - 1] = _PROJECT_TO_MNMS[case.labels[frame - 1]]
    for array, name in ((images, f"{code}_sa"), (labels, f"{code}_sa_gt")):
        image = _volume(array, case, spacing_t=_FRAME_MS)
        sitk.WriteImage(image, str(folder / f"{name}.nii.gz"), useCompression=True)
    vendor_name, centre = VENDORS[vendor]
    height = float(np.clip(round(rng.normal(170.0, 9.0)), 150, 198))
    weight = float(round(np.clip(rng.normal(26.0, 4.0), 18.0, 40.0) * (height / 100.0) ** 2))
    return {
        "External code": code,
        "VendorName": vendor_name,
        "Vendor": vendor,
        "Centre": centre,
        "ED": "0",
        "ES": str(case.es_frame - 1),
        "Age": str(int(rng.integers(18, 80))),
        "Pathology": group or "NOR",
        "Sex": str(rng.choice(["M", "F"])),
        "Height": f"{height:.1f}",
        "Weight": f"{weight:.1f}",
    }


def finish_mnms(root: Path, rows: list[dict[str, str]]) -> None:
    """The information CSV at the root: an unnamed index column, then one row per subject."""
    with (root / INFO_CSV).open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["", *CSV_COLUMNS])
        for index, row in enumerate(rows):
            writer.writerow([str(index), *(row.get(column, "") for column in CSV_COLUMNS)])
