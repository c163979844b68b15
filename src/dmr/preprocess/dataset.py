"""The dataset driver of preprocessing: every case of a raw dataset into one slice folder.

Kept apart from the per-volume steps (:mod:`dmr.preprocess.volume`): this part knows cases,
frames, label formats and the on-disk layout of docs/formats.md (arrays and slice/case tables).
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from dmr.datasets.case import Case
from dmr.errors import DatasetError
from dmr.io import atomic_dir, write_csv, write_json
from dmr.labels import label_values_for
from dmr.preprocess.distance import class_distance_maps
from dmr.preprocess.npy import concatenate_npy
from dmr.preprocess.regions import slice_regions
from dmr.preprocess.volume import PreprocessParams, preprocess_label, preprocess_volume

log = logging.getLogger(__name__)

SLICE_COLUMNS: tuple[str, ...] = (
    "index",
    "case",
    "group",
    "frame",
    "phase",
    "slice",
    "n_slices",
    "has_foreground",
    "region",
)
CASE_COLUMNS: tuple[str, ...] = ("case", "group", "n_frames", "ed_frame", "es_frame")


def _class_index_lookup(label_values: list[int]) -> np.ndarray:
    """256-entry table: global label value → class index, 255 for values the format lacks."""
    lookup = np.full(256, 255, dtype=np.uint8)
    for class_index, value in enumerate(label_values):
        lookup[value] = class_index
    return lookup


def _frames_to_use(case: Case, frames: str) -> list[int]:
    if frames == "ed_es":
        return sorted({case.ed_frame, case.es_frame})
    if frames == "all":
        return sorted(set(case.labelled_frames))
    raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")


def _phase_of(case: Case, frame: int) -> str:
    if frame == case.ed_frame:
        return "ED"
    if frame == case.es_frame:
        return "ES"
    return ""


@dataclass
class _CaseArrays:
    images: np.ndarray
    labels: np.ndarray
    distmaps: np.ndarray
    rows: list[dict]


def _preprocess_case(
    case: Case,
    frames: str,
    params: PreprocessParams,
    lookup: np.ndarray,
    label_values: list[int],
) -> _CaseArrays:
    images, labels, distmaps, rows = [], [], [], []
    num_classes = len(label_values)
    frame_numbers = _frames_to_use(case, frames)
    if not frame_numbers:
        raise DatasetError(f"{case.path}: case {case.case_id} has no labelled frame")
    for frame_number in frame_numbers:
        where = f"{case.path}: case {case.case_id}, frame {frame_number}"
        frame = case.load_frame(frame_number)
        if frame.label is None:
            raise DatasetError(f"{where}: no reference label for a frame used for training")
        try:
            image, geometry = preprocess_volume(frame.image, params)
            label = preprocess_label(frame.label, geometry)
            regions = slice_regions(sitk.GetArrayFromImage(frame.label))
        except ValueError as error:
            raise DatasetError(f"{where}: {error}") from error
        classes = lookup[label]
        if (classes == 255).any():
            raise DatasetError(
                f"{where}: label values {sorted(np.unique(label).tolist())} outside "
                f"{label_values} expected for format {case.dataset_format!r}"
            )
        for z in range(image.shape[0]):
            rows.append(
                {
                    "case": case.case_id,
                    "group": case.group or "",
                    "frame": frame_number,
                    "phase": _phase_of(case, frame_number),
                    "slice": z,
                    "n_slices": image.shape[0],
                    "has_foreground": bool(classes[z].any()),
                    "region": regions[z],
                }
            )
            distmaps.append(class_distance_maps(classes[z], num_classes, np.inf))
        images.append(image)
        labels.append(classes)
    return _CaseArrays(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        distmaps=np.stack(distmaps).astype(np.float16),
        rows=rows,
    )


def _concatenate_chunks(chunks: list[Path], target: Path, dtype: np.dtype) -> int:
    """Concatenate .npy chunks along axis 0 into ``target`` (streamed, see ``dmr.preprocess.npy``);
    delete the chunks."""
    n = concatenate_npy(chunks, target, dtype)
    for chunk in chunks:
        chunk.unlink()
    return n


def preprocess_dataset(
    fmt: str,
    raw_dir: str | Path,
    out_dir: str | Path,
    *,
    spacing: float,
    size: int,
    clip_percentile: float,
    frames: Literal["ed_es", "all"] = "ed_es",
    options: Mapping[str, Any] | None = None,
) -> None:
    """Preprocess every case of a raw dataset into the slice folder of docs/formats.md.

    Memory stays bounded by one case: each case's arrays go to temporary .npy chunks inside the
    (atomic) output folder and are streamed into the final arrays at the end
    (``dmr.preprocess.npy``: no memory maps, whose touched pages would all count as resident).
    """
    from dmr.datasets import dataset_structures, read_dataset

    params = PreprocessParams(spacing=spacing, size=size, clip_percentile=clip_percentile)
    if frames not in ("ed_es", "all"):
        raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")
    structures = list(dataset_structures(fmt, options))
    label_values = label_values_for(structures)
    lookup = _class_index_lookup(label_values)

    cases = read_dataset(fmt, raw_dir, options=options)
    if not cases:
        raise DatasetError(f"{raw_dir}: no cases found for format {fmt!r}")
    if frames == "ed_es":
        unknown = [c.case_id for c in cases if not (1 <= c.ed_frame <= c.n_frames)]
        unknown += [c.case_id for c in cases if not (1 <= c.es_frame <= c.n_frames)]
        if unknown:
            raise DatasetError(
                f"{raw_dir}: ED/ES unknown for {len(set(unknown))} case(s), e.g. "
                f"{', '.join(sorted(set(unknown))[:5])}: the workflow scores ED and ES; give "
                "the phases (nnU-Net: reader.phases or a case_pattern with a `phase` group)"
            )
    ids = [case.case_id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DatasetError(f"{raw_dir}: duplicate case ids {duplicates}")

    with atomic_dir(out_dir) as folder:
        chunk_dir = folder / "chunks"
        chunk_dir.mkdir()
        chunks: dict[str, list[Path]] = {"images": [], "labels": [], "distmaps": []}
        slice_rows: list[dict] = []
        for number, case in enumerate(tqdm(cases, desc=f"preprocess {fmt}", file=sys.stderr)):
            arrays = _preprocess_case(case, frames, params, lookup, label_values)
            for name in chunks:
                path = chunk_dir / f"{name}_{number:06d}.npy"
                np.save(path, getattr(arrays, name))
                chunks[name].append(path)
            slice_rows.extend(arrays.rows)
        n_slices = len(slice_rows)
        dtypes = {"images": np.float32, "labels": np.uint8, "distmaps": np.float16}
        for name, dtype in dtypes.items():
            n = _concatenate_chunks(chunks[name], folder / f"{name}.npy", np.dtype(dtype))
            if n != n_slices:
                raise RuntimeError(f"{name}: {n} slices written but {n_slices} table rows")
        shutil.rmtree(chunk_dir)

        slices = pd.DataFrame(slice_rows, columns=list(SLICE_COLUMNS[1:]))
        slices.insert(0, "index", np.arange(n_slices))
        write_csv(folder / "slices.csv", slices)
        write_csv(
            folder / "cases.csv",
            pd.DataFrame(
                [
                    {
                        "case": case.case_id,
                        "group": case.group or "",
                        "n_frames": case.n_frames,
                        "ed_frame": case.ed_frame,
                        "es_frame": case.es_frame,
                    }
                    for case in cases
                ],
                columns=list(CASE_COLUMNS),
            ),
        )
        write_json(
            folder / "meta.json",
            {
                "format": fmt,
                "spacing": params.spacing,
                "size": params.size,
                "clip_percentile": params.clip_percentile,
                "frames": frames,
                "structures": structures,
                "label_values": label_values,
                "num_classes": len(label_values),
                "n_slices": n_slices,
            },
        )
    log.info("preprocessed %d cases, %d slices into %s", len(cases), n_slices, out_dir)
