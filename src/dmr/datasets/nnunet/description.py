"""What an nnU-Net raw dataset's dataset.json declares (v2 or v1), and the lookup table that
turns its label values into the project's through the option ``labels``.

Kept apart from the file listing because the label map is the one thing the user must state for
this format, and its problems are worth reporting before a single image is opened."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmr.labels import BACKGROUND, STRUCTURE_LABELS

DATASET_JSON = "dataset.json"
DEFAULT_FILE_ENDING = ".nii.gz"
#: What a dataset.json label may be mapped to (option ``labels``).
TARGETS: tuple[str, ...] = ("background", *STRUCTURE_LABELS)


@dataclass(frozen=True)
class DatasetDescription:
    """What dataset.json says: label names → values in the files, and the files' ending."""

    path: Path
    labels: dict[str, int]
    file_ending: str
    n_training: int | None


def parse_dataset_json(root: Path, problems: list[str]) -> DatasetDescription | None:
    """Read dataset.json (v2 or v1); problems for a missing, unparseable or unusable one."""
    path = root / DATASET_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: missing (every nnU-Net raw dataset has one)")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path}: unreadable or not valid JSON ({exc})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a JSON object, got {type(data).__name__}")
        return None
    before = len(problems)
    channels = data.get("channel_names", data.get("modality"))
    if not isinstance(channels, dict) or not channels:
        problems.append(f"{path}: no channel_names (v2) or modality (v1) mapping")
    elif len(channels) != 1:
        problems.append(f"{path}: {len(channels)} channels; this method takes one cine channel")
    labels = _parse_labels(data.get("labels"), path, problems)
    if data.get("regions_class_order") is not None:
        problems.append(f"{path}: region-based labels (regions_class_order) are not supported")
    ending = data.get("file_ending", DEFAULT_FILE_ENDING)
    if not isinstance(ending, str) or not ending.startswith("."):
        problems.append(f"{path}: file_ending {ending!r} is not an extension like '.nii.gz'")
    n_training = data.get("numTraining")
    if n_training is not None and (not isinstance(n_training, int) or n_training < 0):
        problems.append(f"{path}: numTraining {n_training!r} is not a non-negative integer")
        n_training = None
    if len(problems) > before:
        return None
    return DatasetDescription(path=path, labels=labels, file_ending=ending, n_training=n_training)


def _parse_labels(raw: Any, path: Path, problems: list[str]) -> dict[str, int]:
    """Label name → value from v2 (``{"RV": 1}``) or v1 (``{"1": "RV"}``) labels."""
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{path}: no 'labels' mapping")
        return {}
    v1 = all(isinstance(value, str) for value in raw.values())
    pairs = [(value, key) for key, value in raw.items()] if v1 else list(raw.items())
    labels: dict[str, int] = {}
    for name, value in pairs:
        if isinstance(value, list | tuple):
            problems.append(f"{path}: label {name!r} is region-based ({value}): not supported")
            continue
        number = int(value) if str(value).isdigit() and not isinstance(value, bool) else None
        if number is None:
            problems.append(f"{path}: label {name!r} has value {value!r}, not an integer >= 0")
        elif name in labels:
            problems.append(f"{path}: label {name!r} declared twice")
        elif number in labels.values():
            other = next(n for n, v in labels.items() if v == number)
            problems.append(f"{path}: labels {other!r} and {name!r} share value {number}")
        else:
            labels[name] = number
    if labels and BACKGROUND not in labels.values():
        problems.append(f"{path}: no label with value 0 (nnU-Net's background)")
    return labels


def label_lut(
    description: DatasetDescription, label_map: Mapping[str, str], problems: list[str]
) -> dict[int, int]:
    """File label value → project label value, from dataset.json and the option ``labels``."""
    lut: dict[int, int] = {}
    for name, value in description.labels.items():
        target = label_map.get(name)
        if value == BACKGROUND:
            if target not in (None, "background"):
                problems.append(
                    f"{description.path}: label {name!r} has value 0 (nnU-Net's background) but "
                    f"the config key reader.labels maps it to {target!r}"
                )
            lut[value] = BACKGROUND
        elif target is None:
            problems.append(
                f"{description.path}: label {name!r} (value {value}) is not in the label map; "
                f"add it to the config key reader.labels (one of {', '.join(TARGETS)})"
            )
        else:
            lut[value] = STRUCTURE_LABELS.get(target, BACKGROUND)
    for name in label_map:
        if name not in description.labels:
            problems.append(
                f"{description.path}: the config key reader.labels names {name!r}, which "
                f"dataset.json does not declare (its labels: {', '.join(description.labels)})"
            )
    return lut
