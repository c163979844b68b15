"""Writer of rendered phantom cases in nnU-Net's raw layout, as its Dataset027 (ACDC) script does.

nnU-Net's ``Dataset027_ACDC`` conversion copies each ACDC ED/ES frame to ``imagesTr`` as its own
case (``patient001_frame01_0000.nii.gz``, reference ``labelsTr/patient001_frame01.nii.gz``) and
declares the labels ``background 0, RV 1, MLV 2, LVC 3`` (ACDC's values, which are the project's).
The patient and phase of a case are not in the layout: ``phases.csv`` at the root records them
(what a user writes from ACDC's Info.cfg files), for the reader's option ``phases``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from dmr.datasets.nnunet import DATASET_JSON, FOLDERS
from dmr.datasets.phantom_writers import _cast, _volume

if TYPE_CHECKING:
    from dmr.datasets.phantom import PhantomCase

#: Dataset027's label names and values (ACDC's, the project's convention).
DATASET027_LABELS: dict[str, int] = {"background": 0, "RV": 1, "MLV": 2, "LVC": 3}
FILE_ENDING = ".nii.gz"
PHASES_CSV = "phases.csv"
#: Reader options that read the phantom (also a template for a real Dataset027 folder).
PHANTOM_OPTIONS: dict[str, object] = {
    "labels": {"RV": "rv", "MLV": "myo", "LVC": "lv"},
    "phases": PHASES_CSV,
}


def write_nnunet_case(
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
    """The ED (frame 1) and ES frames as two nnU-Net cases; the row for ``phases.csv``.

    Training cases go to ``imagesTr``/``labelsTr``, testing ones to ``imagesTs``/``labelsTs``.
    """
    split = "testing" if testing else "training"
    images_dir, labels_dir = (root / folder for folder in FOLDERS[split])
    images_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    patient = f"patient{number:03d}"
    images = _cast(case.images, case.dtype)
    ids = {}
    for phase, frame in (("ED", 1), ("ES", case.es_frame)):
        case_id = f"{patient}_frame{frame:02d}"
        ids[phase] = case_id
        image = _volume(images[frame - 1], case)
        label = _volume(case.labels[frame - 1].astype(np.uint8), case)
        sitk.WriteImage(image, str(images_dir / f"{case_id}_0000{FILE_ENDING}"), True)
        sitk.WriteImage(label, str(labels_dir / f"{case_id}{FILE_ENDING}"), True)
    return {
        "patient": patient,
        "ed_case": ids["ED"],
        "es_case": ids["ES"],
        "group": group or "",
        "split": split,
    }


def finish_nnunet(root: Path, rows: list[dict[str, str]]) -> None:
    """``dataset.json`` (v2, as Dataset027 writes it) and ``phases.csv`` at the dataset root."""
    rows = [row for row in rows if row]
    n_training = 2 * sum(row["split"] == "training" for row in rows)
    description = {
        "channel_names": {"0": "cineMRI"},
        "labels": DATASET027_LABELS,
        "numTraining": n_training,
        "file_ending": FILE_ENDING,
    }
    (root / DATASET_JSON).write_text(json.dumps(description, indent=4) + "\n", encoding="utf-8")
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["case", "patient", "phase", "group"])
    for row in sorted(rows, key=lambda r: r["patient"]):
        for phase in ("ED", "ES"):
            writer.writerow([row[f"{phase.lower()}_case"], row["patient"], phase, row["group"]])
    (root / PHASES_CSV).write_text(table.getvalue(), encoding="utf-8")
