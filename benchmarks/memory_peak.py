"""Peak resident memory of preprocessing, augmentation and one training epoch at full scale.

The real datasets' sizes are rebuilt from phantoms: 100 ACDC-like cases (ED + ES frames used,
256 px at 1.5625 mm) and 97 LVSC-like cases with all 20 frames labelled (192 px, ~19 000
labelled slices). Each stage runs as its own process under ``/usr/bin/time -v`` (niced, the
machine may be shared), whose "Maximum resident set size" is the number checked against the
target (4 GiB by default).

The ``epoch`` stage runs a child mode of this script that builds fold 0's datasets (K = 5) with
``dmr.train.data.build_datasets`` and does one epoch of the real data path: every training batch
(original + augmented slices of the training cases, batch 15, distance maps truncated at
T = 250) is read through ``dmr.train.data.iterate_batches``, and the first ``--train-steps`` of them
also go through real DMR-U-Net training steps (``dmr.train.train_step``: width 32, RMSprop,
learned task weights); then the validation set is read the same way, with a no-grad loss pass
(``dmr.train.evaluate``) on its first ``--val-steps`` batches. A complete epoch of compute at
256 px takes hours on a small CPU; ``--train-steps all`` runs exactly ``train_one_epoch`` and
``evaluate`` over the whole fold (GPU or many cores). The child also records its VmRSS/VmHWM at
checkpoints, which says which phase set the peak. Like ``dmr train``, the child lets glibc's
malloc reuse freed tensor memory (``dmr.train.allocator``) unless ``--no-reuse-freed-memory`` is
given.

Run on demand (never in the test suite), e.g.::

    python benchmarks/memory_peak.py all                # both datasets, every stage
    python benchmarks/memory_peak.py epoch --datasets acdc --train-steps all --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger("memory_peak")
GIB = 1024**3
DEFAULT_WORK = Path(__file__).resolve().parent / "out" / "memory"
STAGES = ("generate", "preprocess", "augment", "folds", "epoch")


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is generated and preprocessed, at the real dataset's size."""

    name: str
    cases: int
    domain: dict[str, Any]
    size: int
    frames: str
    copies: int


DATASETS: dict[str, DatasetSpec] = {
    # ACDC: 100 training cases; domain defaults (6-18 slices, 12-35 frames, up to 260 px).
    "acdc": DatasetSpec("acdc", 100, {}, size=256, frames="ed_es", copies=4),
    # LVSC: 97 training cases with every frame labelled; 8-12 slices x 20 frames gives the real
    # set's ~19 000 labelled slices, with moderate matrices.
    "lvsc": DatasetSpec(
        "lvsc",
        97,
        {"n_frames": [20, 20], "n_slices": [8, 12], "matrix_x": [192, 256], "matrix_y": [192, 256]},
        size=192,
        frames="all",
        copies=2,
    ),
}


@dataclass
class StageResult:
    dataset: str
    stage: str
    peak_rss_bytes: int | None
    wall_s: float | None
    slices: int | None
    exit_status: int
    command: list[str]
    note: str = ""
    #: Distinguishes runs of one stage with different settings (the epoch's training steps).
    variant: str = ""
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    def passed(self, limit_bytes: float) -> bool:
        return (
            self.exit_status == 0
            and self.peak_rss_bytes is not None
            and self.peak_rss_bytes < limit_bytes
        )


# --------------------------------------------------------------------------- paths
def raw_dir(work: Path, name: str) -> Path:
    return work / "raw" / name


def preprocessed_dir(work: Path, name: str) -> Path:
    return work / name / "preprocessed"


def augmented_dir(work: Path, name: str) -> Path:
    return work / name / "augmented"


def folds_csv(work: Path, name: str) -> Path:
    return work / name / "folds.csv"


# --------------------------------------------------------------------------- /usr/bin/time -v
def parse_time_report(text: str) -> tuple[int | None, float | None]:
    """(peak RSS in bytes, wall seconds) from GNU time's ``-v`` report; ``None`` when absent."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    seconds = None
    if wall is not None:
        seconds = 0.0
        for part in wall.group(1).split(":"):
            seconds = 60 * seconds + float(part)
    return (int(rss.group(1)) * 1024 if rss else None), seconds


def measured(command: list[str], log_path: Path, nice: int) -> tuple[int, int | None, float | None]:
    """Run ``command`` niced under ``/usr/bin/time -v``; (exit status, peak RSS bytes, wall s).

    The command's own output goes to ``log_path``; time's report to a file of its own (``-o``),
    so nothing the command prints can be mistaken for it.
    """
    if not Path("/usr/bin/time").is_file():
        raise SystemExit("/usr/bin/time (GNU time) is required: apt-get install time")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    report = log_path.with_suffix(".time.txt")
    full = ["nice", "-n", str(nice), "/usr/bin/time", "-v", "-o", str(report), *command]
    LOG.info("running %s (log %s)", " ".join(command), log_path)
    with open(log_path, "w", encoding="utf-8") as log_file:
        status = subprocess.run(full, stdout=log_file, stderr=subprocess.STDOUT, check=False)
    peak, wall = parse_time_report(report.read_text(encoding="utf-8"))
    return status.returncode, peak, wall


# --------------------------------------------------------------------------- stages
def _n_slices(folder: Path) -> int | None:
    meta = folder / "meta.json"
    if not meta.is_file():
        return None
    return int(json.loads(meta.read_text(encoding="utf-8"))["n_slices"])


def stage_generate(spec: DatasetSpec, args: argparse.Namespace) -> StageResult:
    target = raw_dir(args.work, spec.name)
    command = [
        "dmr",
        "phantoms",
        "--format",
        spec.name,
        "--cases",
        str(args.cases or spec.cases),
        "--seed",
        "0",
        "--domain-json",
        json.dumps(spec.domain),
        "-o",
        str(target),
    ]
    if target.is_dir():
        LOG.info("%s exists: generation skipped", target)
        return StageResult(spec.name, "generate", None, None, None, 0, command, "present, skipped")
    status, peak, wall = measured(
        command, args.work / "logs" / f"{spec.name}_generate.log", args.nice
    )
    return StageResult(spec.name, "generate", peak, wall, None, status, command)


def stage_preprocess(spec: DatasetSpec, args: argparse.Namespace) -> StageResult:
    target = preprocessed_dir(args.work, spec.name)
    command = [
        "dmr",
        "preprocess",
        "--format",
        spec.name,
        str(raw_dir(args.work, spec.name)),
        "--spacing",
        "1.5625",
        "--size",
        str(spec.size),
        "--frames",
        spec.frames,
        "-o",
        str(target),
    ]
    status, peak, wall = measured(
        command, args.work / "logs" / f"{spec.name}_preprocess.log", args.nice
    )
    return StageResult(spec.name, "preprocess", peak, wall, _n_slices(target), status, command)


def stage_augment(spec: DatasetSpec, args: argparse.Namespace) -> StageResult:
    target = augmented_dir(args.work, spec.name)
    command = [
        "dmr",
        "augment",
        str(preprocessed_dir(args.work, spec.name)),
        "--copies",
        str(spec.copies),
        "--seed",
        "0",
        "-o",
        str(target),
    ]
    status, peak, wall = measured(
        command, args.work / "logs" / f"{spec.name}_augment.log", args.nice
    )
    return StageResult(spec.name, "augment", peak, wall, _n_slices(target), status, command)


def stage_folds(spec: DatasetSpec, args: argparse.Namespace) -> StageResult:
    command = [
        "dmr",
        "folds",
        str(preprocessed_dir(args.work, spec.name) / "cases.csv"),
        "--k",
        "5",
        "--seed",
        "0",
        "-o",
        str(folds_csv(args.work, spec.name)),
    ]
    status, peak, wall = measured(command, args.work / "logs" / f"{spec.name}_folds.log", args.nice)
    return StageResult(spec.name, "folds", peak, wall, None, status, command)


def epoch_variant(train_steps: str) -> str:
    return "data path only" if train_steps == "0" else f"{train_steps} training steps"


def stage_epoch(spec: DatasetSpec, args: argparse.Namespace) -> StageResult:
    tag = (
        f"epoch_{args.train_steps}steps"
        + ("_recompute" if args.checkpoint_activations else "")
        + ("_reuse" if args.reuse_freed_memory else "")
    )
    report = args.work / spec.name / f"{tag}_report.json"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_epoch_child",
        "--datasets",
        spec.name,
        "--work",
        str(args.work),
        "--train-steps",
        str(args.train_steps),
        "--val-steps",
        str(args.val_steps),
        "--batch-size",
        str(args.batch_size),
        "--threshold",
        str(args.threshold),
        "--width",
        str(args.width),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--report",
        str(report),
        *(["--checkpoint-activations"] if args.checkpoint_activations else []),
        "--reuse-freed-memory" if args.reuse_freed_memory else "--no-reuse-freed-memory",
    ]
    status, peak, wall = measured(command, args.work / "logs" / f"{spec.name}_{tag}.log", args.nice)
    details = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    slices = None
    note = "child wrote no report"
    if details:
        slices = details["train_slices"] + details["val_slices"]
        note = (
            f"{details['train_slices']} train + {details['val_slices']} val slices read; "
            f"{details['trained_batches']}/{details['train_batches']} train batches with "
            f"training steps, {details['evaluated_batches']}/{details['val_batches']} val "
            f"batches with a no-grad pass ({details['device']}"
        )
        if details["trained_batches"]:
            note += f", {details['seconds_per_train_step']:.1f} s per training step"
        note += ")"
    variant = epoch_variant(args.train_steps)
    if args.checkpoint_activations:
        variant += ", activation checkpointing"
    if args.reuse_freed_memory:  # rows without this suffix ran with glibc's malloc defaults
        variant += ", malloc reuse"
    return StageResult(
        spec.name,
        "epoch",
        peak,
        wall,
        slices,
        status,
        command,
        note,
        variant,
        details.get("checkpoints", []),
    )


STAGE_FUNCTIONS = {
    "generate": stage_generate,
    "preprocess": stage_preprocess,
    "augment": stage_augment,
    "folds": stage_folds,
    "epoch": stage_epoch,
}


# --------------------------------------------------------------------------- the epoch child
def memory_status() -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak so far) of this process, in bytes, from /proc/self/status."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def run_epoch_child(args: argparse.Namespace) -> int:
    """One epoch of fold 0's real data path with training steps on the first batches."""
    import numpy as np
    import torch

    from dmr.models import build_model, enable_activation_checkpointing
    from dmr.train import (
        build_optimizer,
        evaluate,
        resolve_device,
        seed_everything,
        train_one_epoch,
        train_step,
    )
    from dmr.train.allocator import reuse_freed_memory
    from dmr.train.data import SliceDataset, build_datasets, iterate_batches, read_fold
    from dmr.train.losses import build_loss

    (name,) = args.datasets
    work: Path = args.work
    checkpoints: list[dict[str, Any]] = []

    def checkpoint(label: str) -> None:
        status = memory_status()
        checkpoints.append({"at": label, **status})
        LOG.info(
            "%s: VmRSS %.2f GiB, VmHWM (peak so far) %.2f GiB",
            label,
            status["VmRSS"] / GIB,
            status["VmHWM"] / GIB,
        )

    checkpoint("start (torch imported)")
    if args.reuse_freed_memory:
        reuse_freed_memory()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    seed_everything(0)
    train_ds, val_ds, meta = build_datasets(
        preprocessed_dir(work, name),
        augmented_dir(work, name),
        folds_csv(work, name),
        0,
        args.threshold,
    )
    checkpoint("datasets built")
    model = build_model(
        "unet", True, in_channels=1, num_classes=int(meta["num_classes"]), width=args.width
    ).to(device, memory_format=torch.channels_last)
    if args.checkpoint_activations:
        enable_activation_checkpointing(model)
    loss_fn = build_loss("dmr", "learned").to(device)
    optimizer = build_optimizer(model, loss_fn, lr=1e-4)
    checkpoint("model and optimiser built")

    batch = args.batch_size
    train_batches = math.ceil(len(train_ds) / batch)
    val_batches = math.ceil(len(val_ds) / batch)
    full = args.train_steps == "all"
    n_train_steps = train_batches if full else min(int(args.train_steps), train_batches)
    n_val_steps = val_batches if full else min(args.val_steps, val_batches)
    LOG.info(
        "fold 0: %d train slices (%d batches, training steps on %d), %d val slices (%d batches, "
        "no-grad pass on %d), device %s",
        len(train_ds),
        train_batches,
        n_train_steps,
        len(val_ds),
        val_batches,
        n_val_steps,
        device,
    )
    step_seconds: list[float] = []
    started = time.perf_counter()
    if full:
        train_one_epoch(
            model, loss_fn, optimizer, train_ds, batch_size=batch, seed=0, epoch=0, device=device
        )
        step_seconds.append((time.perf_counter() - started) / train_batches)
    else:
        model.train()
        loss_fn.train()
        for number, batch_tensors in enumerate(
            iterate_batches(train_ds, batch, shuffle=True, seed=0, epoch=0)
        ):
            if number < n_train_steps:
                step_started = time.perf_counter()
                result, _ = train_step(model, loss_fn, optimizer, batch_tensors, device)
                float(result.total.detach())  # synchronise, as train_one_epoch does
                step_seconds.append(time.perf_counter() - step_started)
                if number == n_train_steps - 1:
                    checkpoint(f"after {n_train_steps} training steps")
            if (number + 1) % 500 == 0:
                LOG.info("read %d/%d train batches", number + 1, train_batches)
    checkpoint("train pass done")
    LOG.info("train pass: %.0f s", time.perf_counter() - started)

    # Validation: a no-grad loss pass on the first batches (evaluate on a subset of the same
    # source), then every remaining batch read through the same iterator.
    (source,) = val_ds.sources
    _, val_cases, _ = read_fold(folds_csv(work, name), 0)
    val_rows = np.flatnonzero(source.slices["case"].isin(val_cases).to_numpy())
    evaluated = SliceDataset([(source, val_rows[: n_val_steps * batch])], args.threshold)
    scores = evaluate(model, loss_fn, evaluated, batch, device) if len(evaluated) else None
    rest = SliceDataset([(source, val_rows[n_val_steps * batch :])], args.threshold)
    if len(rest):
        for _ in iterate_batches(rest, batch, shuffle=False):
            pass
    checkpoint("validation pass done")

    from dmr.io import write_json

    write_json(
        args.report,
        {
            "dataset": name,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "train_slices": len(train_ds),
            "val_slices": len(val_ds),
            "train_batches": train_batches,
            "val_batches": val_batches,
            "trained_batches": n_train_steps,
            "evaluated_batches": n_val_steps,
            "seconds_per_train_step": sum(step_seconds) / max(len(step_seconds), 1),
            "val_scores_on_evaluated_batches": scores,
            "checkpoints": checkpoints,
        },
    )
    return 0


# --------------------------------------------------------------------------- results
def load_results(path: Path) -> list[StageResult]:
    if not path.is_file():
        return []
    results = [
        StageResult(**row) for row in json.loads(path.read_text(encoding="utf-8"))["results"]
    ]
    for r in results:  # rows written before variants were recorded
        if r.stage == "epoch" and not r.variant and "--train-steps" in r.command:
            r.variant = epoch_variant(r.command[r.command.index("--train-steps") + 1])
    return results


def merge(old: list[StageResult], new: list[StageResult]) -> list[StageResult]:
    """Latest result of each (dataset, stage, variant), in dataset then stage order."""
    latest = {(r.dataset, r.stage, r.variant): r for r in [*old, *new]}
    order = {name: i for i, name in enumerate(STAGES)}
    return sorted(latest.values(), key=lambda r: (r.dataset, order[r.stage], r.variant))


def markdown_table(results: list[StageResult], limit_gib: float) -> str:
    lines = [
        f"| dataset | stage | peak RSS (GiB) | wall time | slices | < {limit_gib:g} GiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        stage = f"{r.stage} ({r.variant})" if r.variant else r.stage
        if r.peak_rss_bytes is None:
            verdict = "skipped" if r.exit_status == 0 else f"FAIL (exit {r.exit_status})"
            lines.append(f"| {r.dataset} | {stage} | | | | {verdict} |")
            continue
        verdict = "PASS" if r.passed(limit_gib * GIB) else "FAIL"
        if r.exit_status != 0:
            verdict = f"FAIL (exit {r.exit_status})"
        wall = time.strftime("%H:%M:%S", time.gmtime(r.wall_s)) if r.wall_s is not None else ""
        slices = f"{r.slices:,}" if r.slices is not None else ""
        lines.append(
            f"| {r.dataset} | {stage} | {r.peak_rss_bytes / GIB:.2f} | {wall} | {slices} "
            f"| {verdict} |"
        )
    return "\n".join(lines)


def run_stages(stages: list[str], args: argparse.Namespace) -> int:
    from dmr.io import write_json

    results_path = args.work / "results.json"
    results = load_results(results_path)
    failed = False
    for name in args.datasets:
        spec = DATASETS[name]
        for stage in stages:
            result = STAGE_FUNCTIONS[stage](spec, args)
            if result.peak_rss_bytes is not None:
                LOG.info(
                    "%s %s: peak RSS %.2f GiB, %.0f s, exit %d",
                    name,
                    stage,
                    result.peak_rss_bytes / GIB,
                    result.wall_s or 0.0,
                    result.exit_status,
                )
            # Re-read: another run of this script may have recorded results meanwhile.
            results = merge(load_results(results_path), [result])
            write_json(
                results_path,
                {
                    "limit_gib": args.limit_gib,
                    "cases_override": args.cases,
                    "load_average": list(os.getloadavg()),
                    "results": [asdict(r) for r in results],
                },
            )
            if result.exit_status != 0:
                LOG.error("%s %s failed; see %s", name, stage, args.work / "logs")
                failed = True
                break
    print(markdown_table(results, args.limit_gib))
    for r in results:
        if r.note and r.stage == "epoch":
            print(f"\n{r.dataset} epoch ({r.variant}): {r.note}")
    if any(r.stage == "epoch" and r.peak_rss_bytes is not None for r in results):
        print(
            "\nThe epoch stage reads every batch of the epoch but runs training steps only on "
            "the first --train-steps batches: a full epoch of compute at 256 px takes hours on a "
            "small CPU (use --train-steps all on a GPU)."
        )
    over = [
        r for r in results if r.peak_rss_bytes is not None and not r.passed(args.limit_gib * GIB)
    ]
    return 1 if failed or over else 0


# --------------------------------------------------------------------------- command line
def train_steps_value(text: str) -> str:
    if text == "all" or (text.isdigit() and int(text) >= 0):
        return text
    raise argparse.ArgumentTypeError(f"expected a count >= 0 or 'all', got {text!r}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "mode", choices=(*STAGES, "all", "table", "_epoch_child"), help="stage(s) to run"
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=tuple(DATASETS), default=list(DATASETS), help="(both)"
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder")
    parser.add_argument(
        "--train-steps",
        type=train_steps_value,
        default="30",
        help="training steps in the epoch, or 'all' (%(default)s)",
    )
    parser.add_argument(
        "--val-steps", type=int, default=5, help="val batches with a no-grad pass (%(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=15, help="(%(default)s)")
    parser.add_argument("--threshold", type=float, default=250.0, help="distance T (%(default)s)")
    parser.add_argument("--width", type=int, default=32, help="U-Net width (%(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (%(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (%(default)s)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of stages (%(default)s)")
    parser.add_argument(
        "--cases", type=int, default=None, help="override the case count (smoke tests only)"
    )
    parser.add_argument("--limit-gib", type=float, default=4.0, help="target (%(default)s)")
    parser.add_argument(
        "--checkpoint-activations",
        action="store_true",
        help="train with dmr.models.enable_activation_checkpointing (training."
        "checkpoint_activations in the config)",
    )
    parser.add_argument(
        "--reuse-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let glibc's malloc keep freed memory, as `dmr train` does by default "
        "(training.reuse_freed_memory) (%(default)s)",
    )
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    if args.val_steps < 0 or args.batch_size < 1:
        parser.error("--val-steps must be >= 0 and --batch-size >= 1")
    if args.mode == "_epoch_child" and (len(args.datasets) != 1 or args.report is None):
        parser.error("_epoch_child needs one dataset and --report")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    if args.mode == "_epoch_child":
        return run_epoch_child(args)
    if args.mode == "table":
        print(markdown_table(load_results(args.work / "results.json"), args.limit_gib))
        return 0
    if shutil.which("dmr") is None:
        raise SystemExit("the `dmr` command is not on PATH: activate the project's environment")
    stages = list(STAGES) if args.mode == "all" else [args.mode]
    return run_stages(stages, args)


if __name__ == "__main__":
    sys.exit(main())
