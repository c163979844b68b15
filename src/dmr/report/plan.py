"""The plan of a real grid from a rehearsal of it: what one run measured, projected to the grid.

A rehearsal (``config/rehearsal.yaml``) runs every job of the paper's grid at its real sizes on
phantoms, with one epoch of a few steps. Its jobs tell what the real grid costs on the same
machine: seconds per training step and per validation batch (``history.csv``), seconds and peak
memory of every job (Snakemake's ``benchmark:`` records), disk per stage. The projection scales
each measurement by the one quantity it grows with:

- a training by its optimiser steps: the real dataset's labelled slices x the fold's training
  share x (1 + augmented copies) / batch, times epochs and folds;
- every other data job (phantoms/download, preprocessing, augmentation, predictions, metrics) and
  each stage's disk by the ratio of the real dataset's labelled slices to the rehearsal's;
- tables, figures and the report not at all.

The arithmetic of images per epoch lives here once; ``benchmarks/paper_grid.py`` uses it too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

#: Labelled slices of the real datasets by (format, frames): ACDC ~1,902 ED + ES slices of its
#: 100 training studies, LVSC ~19,000 slices of every labelled frame of its 100 studies (~1,900
#: at ED and ES). Approximate counts of the public releases.
REAL_LABELLED_SLICES: dict[tuple[str, str], int] = {
    ("acdc", "ed_es"): 1902,
    ("lvsc", "all"): 19000,
    ("lvsc", "labelled"): 19000,
    ("lvsc", "ed_es"): 1900,
}
#: Bytes per pixel a training holds of a slice (``dmr.train.residency.bytes_per_slice``): the
#: image as float32, the label as uint8 and, for DMR networks, a float16 distance map per
#: structure.
IMAGE_BYTES, LABEL_BYTES, DISTANCE_BYTES = 4, 1, 2
#: Stages whose disk use and job time grow with the data; the others are constant.
DATA_STAGES: tuple[str, ...] = ("preprocessed", "augmented", "predictions", "heldout", "metrics")


@dataclass(frozen=True)
class EpochShape:
    """One dataset's training epoch: images seen and optimiser steps, validation images."""

    train_images: float
    val_images: float
    batch_size: int

    @property
    def steps(self) -> int:
        return math.ceil(self.train_images / self.batch_size)

    @property
    def val_batches(self) -> int:
        return math.ceil(self.val_images / self.batch_size)


def epoch_shape(
    slices: float,
    *,
    k: int,
    val_fraction: float,
    test_fraction: float | None,
    copies: int,
    batch: int,
) -> EpochShape:
    """Images of one fold's epoch: the training share (1 - test - validation, the test share
    1/k unless ``test_fraction`` is set) of ``slices``, each with its augmented copies."""
    test_share = test_fraction if test_fraction is not None else 1.0 / k
    train_share = 1.0 - test_share - val_fraction
    return EpochShape(slices * train_share * (1 + copies), slices * val_fraction, batch)


def dataset_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The settings of ``dataset`` the grid's cost depends on, with the schema's defaults."""
    entry = config["datasets"][dataset]
    pre, aug, folds = (entry.get(k) or {} for k in ("preprocess", "augment", "folds"))
    training = dict(config.get("training") or {}) | dict(entry.get("training") or {})
    written, used = aug.get("copies", 4), training.get("augmented_copies")
    return {
        "format": entry["format"],
        "frames": pre.get("frames", "ed_es"),
        "size": pre.get("size", 256),
        # A training sees the first `augmented_copies` of what augment writes (None: all).
        "copies": written if used is None else min(written, used),
        "k": folds.get("k", 5),
        "val_fraction": folds.get("val_fraction", 0.1),
        "test_fraction": folds.get("test_fraction"),
        "epochs": training.get("epochs", 100),
        "batch": training.get("batch_size", 15),
    }


def real_slices(settings: Mapping[str, Any]) -> int:
    """Labelled slices of the real dataset a grid's ``settings`` (``dataset_settings``) name."""
    slices = REAL_LABELLED_SLICES.get((settings["format"], settings["frames"]))
    if slices is None:
        raise ValueError(f"no real slice count for {settings['format']} {settings['frames']}")
    return slices


def real_epoch_shape(settings: Mapping[str, Any]) -> EpochShape:
    """One fold's epoch of the real dataset a grid's ``settings`` name."""
    return epoch_shape(
        real_slices(settings),
        k=settings["k"],
        val_fraction=settings["val_fraction"],
        test_fraction=settings["test_fraction"],
        copies=settings["copies"],
        batch=settings["batch"],
    )


def trains_as(config: Mapping[str, Any], model: str) -> str:
    """The network a model trains as, ``{arch}-base`` or ``{arch}-dmr`` (ablations train at
    their architecture's DMR cost)."""
    arch, _, variant = model.partition("-")
    return f"{arch}-{'dmr' if config['variants'][variant]['loss'] == 'dmr' else 'base'}"


def _read_tsvs(paths: list[Path], **columns: Any) -> pd.DataFrame:
    """Snakemake's benchmark records (tab-separated), with ``columns`` computed per path."""
    frames = [
        pd.read_csv(p, sep="\t").assign(**{k: v(p) for k, v in columns.items()}) for p in paths
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def step_costs(results: Path, config: Mapping[str, Any]) -> pd.DataFrame:
    """Seconds per training step and per validation batch, per dataset and network kind: the
    median over trainings of their epochs' sums (first steps, with one-time set-up, included)."""
    rows = []
    for dataset in config["datasets"]:
        for model in config["models"]:
            paths = sorted((results / dataset / "models" / model).glob("fold*/history.csv"))
            for path in paths:
                h = pd.read_csv(path)
                if not {"train_seconds", "train_steps", "val_batches"} <= set(h.columns):
                    raise ValueError(f"{path}: no train_seconds/train_steps/val_batches columns")
                rows.append(
                    {
                        "dataset": dataset,
                        "kind": trains_as(config, model),
                        "s_per_step": h["train_seconds"].sum() / h["train_steps"].sum(),
                        "s_per_val_batch": (h["seconds"] - h["train_seconds"]).sum()
                        / max(h["val_batches"].sum(), 1),
                        "device": str(h["device"].iloc[-1]),
                        "precision": str(h["precision"].iloc[-1]),
                    }
                )
    if not rows:
        raise ValueError(f"{results}: no history.csv of any training of this config")
    table = pd.DataFrame(rows)
    keys = ["dataset", "kind", "device", "precision"]
    return table.groupby(keys, as_index=False)[["s_per_step", "s_per_val_batch"]].median()


def job_records(results: Path) -> pd.DataFrame:
    """Every job's Snakemake benchmark record: its stage (the folder under ``benchmarks/``,
    e.g. ``acdc/train``), seconds and peak RSS in MiB."""
    paths = sorted((results / "benchmarks").rglob("*.tsv"))
    table = _read_tsvs(
        paths,
        job=lambda p: str(p.relative_to(results / "benchmarks").with_suffix("")),
    )
    if table.empty:
        return pd.DataFrame(columns=["job", "dataset", "stage", "s", "max_rss"])
    parts = table["job"].str.split("/")
    table["dataset"] = parts.str[0]
    table["stage"] = parts.map(lambda p: p[1] if len(p) > 2 else p[-1].split("_")[0])
    table["max_rss"] = pd.to_numeric(table["max_rss"], errors="coerce")
    return table[["job", "dataset", "stage", "s", "max_rss"]]


def disk_use(results: Path, resources: Path, datasets: list[str]) -> pd.DataFrame:
    """Bytes on disk per dataset and stage folder (``resources`` holds the raw data)."""
    rows = []
    for dataset in datasets:
        folders = {"raw data": resources / dataset} | {
            stage: results / dataset / stage
            for stage in ("preprocessed", "augmented", "models", "ckpt", "predictions", "heldout")
        }
        for stage, folder in folders.items():
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            rows.append({"dataset": dataset, "stage": stage, "bytes": size})
    return pd.DataFrame(rows)


def rehearsal_slices(results: Path, dataset: str) -> int:
    """Labelled slices the rehearsal preprocessed for ``dataset``."""
    return len(pd.read_csv(results / dataset / "preprocessed" / "slices.csv"))


def project_training(
    costs: pd.DataFrame, target: Mapping[str, Any], titan_xp: Mapping[tuple[str, str], float]
) -> pd.DataFrame:
    """Minutes per epoch and hours of every (dataset, model) of the ``target`` grid at the
    measured step costs of the rehearsal dataset of the same format."""
    rows = []
    for dataset in target["datasets"]:
        s = dataset_settings(target, dataset)
        try:
            shape = real_epoch_shape(s)
        except ValueError as exc:
            raise ValueError(f"{dataset}: {exc}") from exc
        for model in target["models"]:
            kind = trains_as(target, model)
            cost = costs[(costs["dataset"] == dataset) & (costs["kind"] == kind)]
            if cost.empty:
                raise ValueError(f"the rehearsal trained no {kind} on {dataset}")
            step, val = float(cost["s_per_step"].iloc[0]), float(cost["s_per_val_batch"].iloc[0])
            minutes = (shape.steps * step + shape.val_batches * val) / 60
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "trains_as": kind,
                    "size": s["size"],
                    "steps_per_epoch": shape.steps,
                    "s_per_step": step,
                    "min_per_epoch": minutes,
                    "paper_titan_xp_min_per_epoch": titan_xp.get((s["format"], kind)),
                    "epochs": s["epochs"],
                    "folds": s["k"],
                    "hours": minutes * s["epochs"] * s["k"] / 60,
                }
            )
    return pd.DataFrame(rows)


def titan_xp_minutes() -> dict[tuple[str, str], float]:
    """The paper's Table I training minutes per epoch on a Titan Xp, by (dataset, network)."""
    from dmr.published import load_published

    published = load_published()
    rows = published[(published["table"] == "I") & (published["quantity"] == "train_min_per_epoch")]
    return {(r.dataset, r.method): float(r.value) for r in rows.itertuples()}


def available_memory_bytes() -> int:
    """Physical memory of this machine (what the training's RAM budget is a share of)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def fold_array_bytes(images: float, size: int, n_structures: int, *, distances: bool) -> float:
    """Bytes of a fold's slice arrays as ``dmr train`` holds them in memory."""
    per_pixel = IMAGE_BYTES + LABEL_BYTES + (DISTANCE_BYTES * n_structures if distances else 0)
    return images * size * size * per_pixel
