"""``plan.md`` / ``plan.json``: a rehearsal's measurements and the real grid they project.

What a lab reads before it books GPU-hours: how long each kind of job took here, how much memory
and disk it used, and what the same machine would need for the real grid (``dmr.report.plan``
holds the arithmetic).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dmr.io import write_json, write_text
from dmr.labels import FORMAT_STRUCTURES
from dmr.report.plan import (
    DATA_STAGES,
    available_memory_bytes,
    dataset_settings,
    disk_use,
    fold_array_bytes,
    job_records,
    project_training,
    real_epoch_shape,
    real_slices,
    rehearsal_slices,
    step_costs,
    titan_xp_minutes,
)

GIB = 1024**3
#: Job stages (the folders of ``benchmarks/``) whose time grows with the data; training is
#: projected by its steps instead, the rest (tables, figures) stays as measured.
SCALED_JOB_STAGES: frozenset[str] = frozenset(
    {"phantoms", "download", "preprocess", "augment", "predict", "metrics", "heldout"}
)


def _scale(config: Mapping[str, Any], target: Mapping[str, Any], results: Path) -> dict[str, float]:
    """Real labelled slices over the rehearsal's, per dataset of the target grid."""
    ratios = {}
    for dataset in target["datasets"]:
        if dataset in config["datasets"]:
            real = real_slices(dataset_settings(target, dataset))
            ratios[dataset] = real / rehearsal_slices(results, dataset)
    return ratios


def _job_stage_dataset(job: pd.Series) -> str | None:
    """The dataset whose size a job's time grows with (a cross job: its test dataset)."""
    if job["dataset"] == "cross":
        return str(job["stage"]).partition("_to_")[2] or None
    return str(job["dataset"])


def _memory(config: Mapping[str, Any], target: Mapping[str, Any], jobs: pd.DataFrame) -> list[dict]:
    """Peak RSS of each kind of job here, and at the real sizes: a training adds its fold's
    arrays when they fit in ``training.data_memory_fraction`` of this machine's memory (else it
    streams them from disk, as here); every other job holds one case at a time."""
    fraction = float((target.get("training") or {}).get("data_memory_fraction", 0.5))
    budget = fraction * available_memory_bytes()
    rows = []
    for (dataset, stage), group in jobs.groupby(["dataset", "stage"]):
        measured = float(group["max_rss"].max()) * 1024**2
        projected, note = measured, "holds one case or volume at a time"
        if stage == "train" and dataset in target["datasets"]:
            s = dataset_settings(target, dataset)
            shape = real_epoch_shape(s)
            n_structures = len(FORMAT_STRUCTURES[s["format"]])
            arrays = fold_array_bytes(
                shape.train_images + shape.val_images, s["size"], n_structures, distances=True
            )
            if arrays <= budget:
                projected, note = (
                    measured + arrays,
                    f"+ fold arrays in RAM ({arrays / GIB:.1f} GiB)",
                )
            else:
                note = f"fold arrays ({arrays / GIB:.1f} GiB) over the RAM budget: streamed"
        rows.append(
            {
                "dataset": dataset,
                "stage": stage,
                "jobs": len(group),
                "peak_rss_gib": measured / GIB,
                "projected_peak_rss_gib": projected / GIB,
                "note": note,
            }
        )
    return rows


def build_plan(
    results: Path,
    resources: Path,
    config: Mapping[str, Any],
    target: Mapping[str, Any],
    target_name: str,
) -> dict[str, Any]:
    """Everything ``plan.md`` shows, as plain data (``plan.json``)."""
    costs = step_costs(results, config)
    jobs = job_records(results)
    ratios = _scale(config, target, results)
    training = project_training(costs, target, titan_xp_minutes())
    jobs["scaled_by"] = [
        ratios.get(_job_stage_dataset(j) or "", 1.0) if j["stage"] in SCALED_JOB_STAGES else 1.0
        for _, j in jobs.iterrows()
    ]
    other = jobs[jobs["stage"] != "train"]
    other_hours_here = float(other["s"].sum()) / 3600
    other_hours_real = float((other["s"] * other["scaled_by"]).sum()) / 3600
    disk = disk_use(results, resources, list(config["datasets"]))
    disk["projected_bytes"] = [
        b * ratios.get(d, 1.0) if stage in (*DATA_STAGES, "raw data") else b
        for d, stage, b in zip(disk["dataset"], disk["stage"], disk["bytes"], strict=True)
    ]
    training_hours = float(training["hours"].sum())
    return {
        "target": target_name,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "memory_gib": available_memory_bytes() / GIB,
            "device": sorted(set(costs["device"])),
            "precision": sorted(set(costs["precision"])),
        },
        "rehearsal": {
            "job_hours": float(jobs["s"].sum()) / 3600,
            "slices": {d: rehearsal_slices(results, d) for d in config["datasets"]},
            "step_costs": costs.to_dict("records"),
        },
        "training": training.to_dict("records"),
        "hours": {
            "training": training_hours,
            "other_jobs": other_hours_real,
            "total": training_hours + other_hours_real,
            "other_jobs_in_rehearsal": other_hours_here,
        },
        "memory": _memory(config, target, jobs),
        "disk": disk.to_dict("records"),
        "scale": ratios,
    }


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def plan_markdown(plan: Mapping[str, Any]) -> str:
    """The plan as a page a user reads before a real grid."""
    m, h = plan["machine"], plan["hours"]
    lines = [
        f"# Plan of `{plan['target']}` on this machine, from this rehearsal",
        "",
        f"Measured here: {m['cpu']}, {m['memory_gib']:.0f} GiB, device "
        f"{', '.join(m['device'])}, precision {', '.join(m['precision'])}. The rehearsal's jobs "
        f"took {plan['rehearsal']['job_hours']:.2f} job-hours. Projections scale each "
        "measurement by what it grows with: a training by its optimiser steps (real labelled "
        "slices x training share x (1 + copies) / batch, x epochs x folds), data jobs and disk by "
        "the real dataset's labelled slices over the rehearsal's "
        f"({', '.join(f'{d} x{r:.1f}' for d, r in plan['scale'].items())}), tables and figures "
        "not at all. First steps carry one-time set-up, so the step costs are upper bounds.",
        "",
        "## Time",
        "",
        f"**{h['total']:.1f} hours** with one job at a time: trainings {h['training']:.1f} h, "
        f"every other job {h['other_jobs']:.1f} h (here: {h['other_jobs_in_rehearsal']:.2f} h). "
        "With N trainings at once (`--cores`, or `training.gpu_slots: N` on one GPU) the "
        "trainings take at best 1/N of that, where the device has the spare capacity "
        "(`benchmarks/gpu_share.py` measures it).",
        "",
        _row(
            [
                "dataset",
                "model",
                "px",
                "steps/epoch",
                "s/step",
                "min/epoch",
                "paper Titan Xp min/epoch",
                "epochs x folds",
                "hours",
            ]
        ),
        _row(["---"] * 9),
    ]
    for r in plan["training"]:
        paper = r["paper_titan_xp_min_per_epoch"]
        lines.append(
            _row(
                [
                    r["dataset"],
                    r["model"],
                    r["size"],
                    f"{r['steps_per_epoch']:,}",
                    f"{r['s_per_step']:.2f}",
                    f"{r['min_per_epoch']:.1f}",
                    "" if paper is None or pd.isna(paper) else f"{paper:.2f}",
                    f"{r['epochs']} x {r['folds']}",
                    f"{r['hours']:.1f}",
                ]
            )
        )
    lines += [
        "",
        "## Memory (peak RSS per kind of job)",
        "",
        _row(["dataset", "stage", "jobs", "here GiB", "real grid GiB", "why"]),
        _row(["---"] * 6),
    ]
    for r in plan["memory"]:
        lines.append(
            _row(
                [
                    r["dataset"],
                    r["stage"],
                    r["jobs"],
                    f"{r['peak_rss_gib']:.2f}",
                    f"{r['projected_peak_rss_gib']:.2f}",
                    r["note"],
                ]
            )
        )
    lines += ["", "## Disk", "", _row(["dataset", "stage", "here GiB", "real grid GiB"])]
    lines.append(_row(["---"] * 4))
    for r in plan["disk"]:
        lines.append(
            _row(
                [
                    r["dataset"],
                    r["stage"],
                    f"{r['bytes'] / GIB:.3f}",
                    f"{r['projected_bytes'] / GIB:.2f}",
                ]
            )
        )
    total = sum(r["projected_bytes"] for r in plan["disk"]) / GIB
    lines += ["", f"Projected disk of the real grid: **{total:.0f} GiB**.", ""]
    return "\n".join(lines)


def write_plan(
    results: Path,
    resources: Path,
    config: Mapping[str, Any],
    target: Mapping[str, Any],
    target_name: str,
    markdown: Path,
    json_path: Path,
) -> dict[str, Any]:
    """Build the plan and write both files atomically."""
    plan = build_plan(results, resources, config, target, target_name)
    write_json(json_path, plan)
    write_text(markdown, plan_markdown(plan))
    return plan
