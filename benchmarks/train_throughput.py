"""Training and inference throughput of the six networks, as a fraction of the machine's peak.

For each model and image size: images/s of a full training step (forward, loss -- the DMR loss for
DMR models --, backward, RMSprop step), inference ms/image of the deployed network (eval, no_grad;
for DMR models also with the regularizer kept, like Table I's bracketed times), and FLOPs per image
counted with ``torch.utils.flop_counter.FlopCounterMode``. Each ``--precision`` (``fp32``;
``bf16`` / ``fp16`` autocast as ``dmr train`` uses it, default fp32 and, on CUDA, bf16) is one
record, with its speed-up over fp32 in the same run. The matmul peak of each precision on the
same machine is measured in the same run (large ``torch.mm``, same thread count), so the
achieved FLOP/s are reported as a fraction of it. The JSON (``--out``) holds the machine, what
``amp: auto`` picks on it, and ``records``: one per (model, size, precision) with at least
``model``, ``size``, ``precision`` and ``train_img_s``.

At the paper's image sizes (256 px ACDC, 192 px LVSC) it also turns images/s into minutes per
training epoch of the paper's setting and prints them beside the paper's Table I (Titan Xp).

Like ``dmr train``, it first lets glibc's malloc reuse freed tensor memory
(``dmr.train.allocator``); ``--no-reuse-freed-memory`` measures with glibc's defaults instead.

Times are the best of the timed steps (the median is reported beside it): on a CPU shared with
other jobs the best step is what the code achieves, and the peak is likewise the best of several
matmul measurements taken through the run.

Run on demand (never in the test suite), e.g.::

    python benchmarks/train_throughput.py --sizes 128 256 --threads 2 --out results.json
    python benchmarks/train_throughput.py --sizes 128 --precision fp32 bf16 --out bf16.json
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dmr.io import write_json
from dmr.models import ARCHITECTURES, build_model, count_parameters
from dmr.report.plan import REAL_LABELLED_SLICES, titan_xp_minutes
from dmr.train import build_optimizer, device_label
from dmr.train.allocator import reuse_freed_memory
from dmr.train.losses import build_loss
from dmr.train.precision import cpu_bf16_units, resolve_precision

LOG = logging.getLogger("train_throughput")
MODEL_NAMES = tuple(f"{arch}-{variant}" for variant in ("base", "dmr") for arch in ARCHITECTURES)
NUM_CLASSES = 4

#: Paper Table I, training minutes per epoch on an NVIDIA Titan Xp, by model and dataset (from
#: the package's transcription of the paper, the one place these numbers live).
PAPER_TITAN_XP_MIN_PER_EPOCH: dict[str, dict[str, float]] = {}
for (_dataset, _model), _minutes in titan_xp_minutes().items():
    PAPER_TITAN_XP_MIN_PER_EPOCH.setdefault(_model, {})[_dataset] = _minutes


@dataclass(frozen=True)
class PaperEpoch:
    """Images in one training epoch of the paper's setting (paper II.E): 80 % of the labelled
    slices, each with its augmented copies. Slice counts are the public datasets' (approximate)."""

    dataset: str
    labelled_slices: int
    augmented_copies: int

    @property
    def images(self) -> int:
        return round(0.8 * self.labelled_slices * (1 + self.augmented_copies))


#: By image size: ACDC is cropped to 256 px (~1,902 ED + ES slices of 100 studies, 4 copies),
#: LVSC to 192 px (~19,000 slices of every frame, 2 copies).
PAPER_EPOCHS: dict[int, PaperEpoch] = {
    256: PaperEpoch("acdc", REAL_LABELLED_SLICES[("acdc", "ed_es")], 4),
    192: PaperEpoch("lvsc", REAL_LABELLED_SLICES[("lvsc", "all")], 2),
}


@dataclass
class Result:
    """One (model, size, precision) record; the JSON contract is at least ``model``, ``size``,
    ``precision`` and ``train_img_s``."""

    model: str
    size: int
    precision: str
    compiled: bool
    batch: int
    parameters: int
    train_img_s: float
    train_img_s_median: float
    train_gflop_per_image: float
    train_fraction_of_peak: float
    infer_ms_per_image: float
    infer_ms_per_image_median: float
    infer_gflop_per_image: float
    infer_fraction_of_peak: float
    infer_ms_per_image_with_regularizer: float | None
    #: This record's images/s over the float32 record of the same model and size (same run).
    speedup_vs_fp32: float | None = None
    #: Matmul peak (of this precision) measured just before this model: the fraction against it
    #: is less sensitive to other jobs' load than the fraction against the run's best peak.
    local_peak_gflops: float = math.nan
    train_fraction_of_local_peak: float = math.nan
    #: At a paper image size: that dataset, its epoch's images, minutes per epoch at the
    #: measured speed, and the paper's Titan Xp minutes.
    epoch_dataset: str | None = None
    epoch_images: int | None = None
    train_min_per_epoch: float | None = None
    paper_titan_xp_min_per_epoch: float | None = None


#: Autocast dtype of each ``--precision`` (None: plain float32).
AUTOCAST: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
#: The dtype whose ``torch.mm`` peak each precision is compared with.
PEAK_DTYPE: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def default_peak_size(device: torch.device) -> int:
    """Side of the square matmul whose FLOP/s is the peak: large enough to saturate the device."""
    return 8192 if device.type == "cuda" else 2048


def measure_matmul_peak(
    device: torch.device, n: int, repeats: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """Best ``torch.mm`` FLOP/s in ``dtype`` over ``repeats`` runs of an ``n`` x ``n`` product."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def timed(
    step: Callable[[], None], warmup: int, steps: int, device: torch.device
) -> tuple[float, float]:
    """(best, median) seconds per call of ``step`` over ``steps`` calls after ``warmup`` calls.

    On a CPU shared with other jobs a step can be preempted; the best step measures what the
    code achieves, the median what a user sharing the machine sees. Both are reported.
    """
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return min(seconds), statistics.median(seconds)


def count_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def make_train_step(
    model: nn.Module,
    regularized: bool,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    autocast_dtype: torch.dtype | None,
) -> Callable[[], None]:
    """One optimisation step, the way training does it (loss parameters in the optimiser)."""
    image, target, dist_target = batch
    loss_fn = build_loss("dmr" if regularized else "ce").to(image.device)
    optimizer = build_optimizer(model, loss_fn, lr=5e-4 if regularized else 1e-4)
    autocast = (
        torch.autocast(image.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else nullcontext()
    )

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            output = model(image)
            if regularized:
                logits, dist_pred = output
                loss = loss_fn(logits, target, dist_pred, dist_target)
            else:
                loss = loss_fn(output, target)
        loss.total.backward()
        optimizer.step()

    return step


def make_inference(
    model: nn.Module, image: torch.Tensor, autocast_dtype: torch.dtype | None = None
) -> Callable[[], None]:
    autocast = (
        torch.autocast(image.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else nullcontext()
    )

    def infer() -> None:
        with torch.no_grad(), autocast:
            model(image)

    return infer


def benchmark_model(
    name: str,
    size: int,
    args: argparse.Namespace,
    device: torch.device,
) -> list[Result]:
    """One record per ``--precision``, all timed on the same model and batch."""
    arch, variant = name.split("-")
    regularized = variant == "dmr"
    torch.manual_seed(0)
    channels_last = torch.channels_last
    model = build_model(arch, regularized, num_classes=NUM_CLASSES, width=args.width)
    model = model.to(device=device, memory_format=channels_last)
    image = torch.randn(args.batch, 1, size, size, device=device)
    image = image.contiguous(memory_format=channels_last)
    target = torch.randint(0, NUM_CLASSES, (args.batch, size, size), device=device)
    dist_target = torch.randn(args.batch, NUM_CLASSES - 1, size, size, device=device)
    batch = (image, target, dist_target)
    deployed = model.without_regularizer() if regularized else model
    epoch = PAPER_EPOCHS.get(size)

    # FLOPs do not depend on the precision: counted once, in float32.
    model.train()
    train_flops = count_flops(make_train_step(model, regularized, batch, autocast_dtype=None))
    model.eval()
    infer_flops = count_flops(make_inference(deployed, image))

    results = []
    for precision in args.precision:
        dtype = AUTOCAST[precision]
        model.train()
        # torch.compile (--compile): the first, compiling steps are in the warm-up.
        net = torch.compile(model) if args.compile else model
        train_step = make_train_step(net, regularized, batch, autocast_dtype=dtype)
        train_s, train_median_s = timed(train_step, args.warmup, args.steps, device)
        model.eval()
        infer_s, infer_median_s = timed(
            make_inference(torch.compile(deployed) if args.compile else deployed, image, dtype),
            args.warmup,
            args.steps,
            device,
        )
        infer_with_regularizer_ms = None
        if regularized:
            full_s, _ = timed(make_inference(model, image, dtype), args.warmup, args.steps, device)
            infer_with_regularizer_ms = 1e3 * full_s / args.batch
        images_per_s = args.batch / train_s
        results.append(
            Result(
                model=name,
                size=size,
                precision=precision,
                compiled=args.compile,
                batch=args.batch,
                parameters=count_parameters(model),
                train_img_s=images_per_s,
                train_img_s_median=args.batch / train_median_s,
                train_gflop_per_image=train_flops / args.batch / 1e9,
                train_fraction_of_peak=math.nan,
                infer_ms_per_image=1e3 * infer_s / args.batch,
                infer_ms_per_image_median=1e3 * infer_median_s / args.batch,
                infer_gflop_per_image=infer_flops / args.batch / 1e9,
                infer_fraction_of_peak=math.nan,
                infer_ms_per_image_with_regularizer=infer_with_regularizer_ms,
                **(epoch_minutes(name, epoch, images_per_s) if epoch else {}),
            )
        )
    fp32 = next((r for r in results if r.precision == "fp32"), None)
    if fp32 is not None:
        results = [replace(r, speedup_vs_fp32=r.train_img_s / fp32.train_img_s) for r in results]
    return results


def epoch_minutes(name: str, epoch: PaperEpoch, images_per_s: float) -> dict[str, object]:
    """Minutes per epoch of the paper's setting at this speed, beside the paper's Table I."""
    return {
        "epoch_dataset": epoch.dataset,
        "epoch_images": epoch.images,
        "train_min_per_epoch": epoch.images / images_per_s / 60,
        "paper_titan_xp_min_per_epoch": PAPER_TITAN_XP_MIN_PER_EPOCH[name][epoch.dataset],
    }


def peak_text(peaks: dict[str, float]) -> str:
    return ", ".join(f"{p} {v / 1e9:.1f} GFLOP/s" for p, v in peaks.items())


def with_fractions(result: Result, peak: float, local_peak: float) -> Result:
    """Fill in the achieved FLOP/s as fractions of the matmul peaks (FLOP/s)."""
    train_flops_per_s = result.train_gflop_per_image * 1e9 * result.train_img_s
    infer_flops_per_s = result.infer_gflop_per_image * 1e9 / (result.infer_ms_per_image / 1e3)
    return replace(
        result,
        train_fraction_of_peak=train_flops_per_s / peak,
        infer_fraction_of_peak=infer_flops_per_s / peak,
        local_peak_gflops=local_peak / 1e9,
        train_fraction_of_local_peak=train_flops_per_s / local_peak,
    )


def markdown_table(results: list[Result]) -> str:
    header = (
        "| model | px | precision | params (M) | train img/s (median) | vs fp32 "
        "| train GFLOP/img | train % peak | % local peak | infer ms/img | infer % peak "
        "| infer ms/img with DMR | min/epoch | paper Titan Xp min/epoch |"
    )
    lines = [header, "|" + "---|" * 14]
    for r in results:
        with_dmr = (
            f"{r.infer_ms_per_image_with_regularizer:.1f}"
            if r.infer_ms_per_image_with_regularizer is not None
            else ""
        )
        speedup = f"{r.speedup_vs_fp32:.2f}x" if r.speedup_vs_fp32 is not None else ""
        minutes = paper = ""
        if r.train_min_per_epoch is not None:
            minutes = f"{r.train_min_per_epoch:.1f} ({r.epoch_dataset}, {r.epoch_images:,} img)"
            paper = f"{r.paper_titan_xp_min_per_epoch:.2f}"
        lines.append(
            f"| {r.model} | {r.size} | {r.precision} | {r.parameters / 1e6:.2f} "
            f"| {r.train_img_s:.2f} ({r.train_img_s_median:.2f}) | {speedup} "
            f"| {r.train_gflop_per_image:.2f} | {100 * r.train_fraction_of_peak:.0f} % "
            f"| {100 * r.train_fraction_of_local_peak:.0f} % "
            f"| {r.infer_ms_per_image:.1f} | {100 * r.infer_fraction_of_peak:.0f} % "
            f"| {with_dmr} | {minutes} | {paper} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="(%(default)s)")
    parser.add_argument(
        "--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES), help="(all six)"
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps (%(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (%(default)s)")
    parser.add_argument("--batch", type=int, default=15, help="paper's batch size (%(default)s)")
    parser.add_argument("--width", type=int, default=32, help="first-level channels (%(default)s)")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: torch's default)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (%(default)s)")
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=tuple(AUTOCAST),
        default=None,
        help="fp32 and/or bf16/fp16 autocast (default: fp32, plus bf16 on CUDA)",
    )
    parser.add_argument(
        "--reuse-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="raise glibc's malloc thresholds like `dmr train` does (%(default)s)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the networks (give --warmup >= 2: the first steps compile)",
    )
    parser.add_argument(
        "--peak-size",
        type=int,
        default=None,
        help="side of the square matmul of the peak (default 2048 on CPU, 8192 on CUDA; smaller "
        "ones understate the peak: for smoke runs, where emulated bf16 makes 2048 take seconds)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--steps must be >= 1, --warmup >= 0, --batch >= 1")
    if args.peak_size is not None and args.peak_size < 1:
        parser.error(f"--peak-size must be positive, got {args.peak_size}")
    if args.precision is None:
        args.precision = ["fp32", "bf16"] if args.device.startswith("cuda") else ["fp32"]
    args.precision = list(dict.fromkeys(args.precision))
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    reused = reuse_freed_memory() if args.reuse_freed_memory else False
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # Other jobs on a shared machine skew every number; record how busy it was.
    load_before = list(os.getloadavg())
    if device.type == "cuda":
        # Same float32 arithmetic for the peak and the models: no TF32 shortcuts on either.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True

    # The peak is a capability: re-measure it before every model and keep the best, so a moment
    # of load from other jobs does not lower it (which would inflate every fraction).
    peak_size = args.peak_size or default_peak_size(device)

    def peaks_now() -> dict[str, float]:
        return {
            p: measure_matmul_peak(device, peak_size, dtype=PEAK_DTYPE[p]) for p in args.precision
        }

    peaks = [peaks_now()]
    raw: list[tuple[Result, dict[str, float]]] = []
    for size in args.sizes:
        for name in args.models:
            local = peaks_now()
            peaks.append(local)
            LOG.info("benchmarking %s at %d px (%s)", name, size, peak_text(local))
            raw += [(r, local) for r in benchmark_model(name, size, args, device)]
    peaks.append(peaks_now())
    best = {p: max(m[p] for m in peaks) for p in args.precision}
    results = [with_fractions(r, best[r.precision], local[r.precision]) for r, local in raw]
    amp = resolve_precision(device, "auto")
    print(
        f"matmul peaks {peak_text(best)} (best of {len(peaks)} measurements each, "
        f"{peak_size} x {peak_size}), "
        f"{torch.get_num_threads()} threads, load average before {load_before[0]:.2f}, "
        f"after {os.getloadavg()[0]:.2f}, malloc reuses freed memory: {reused}\n"
        f"amp auto on {device}: {amp.name} ({amp.reason})\n"
    )
    print(markdown_table(results))
    if args.out is not None:
        write_json(
            args.out,
            {
                "device": str(device),
                "device_name": device_label(device),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "reuse_freed_memory": reused,
                "cpu_bf16_units": cpu_bf16_units(),
                "amp_auto": {"precision": amp.name, "reason": amp.reason},
                "matmul_peak_gflops": {p: v / 1e9 for p, v in best.items()},
                "matmul_peak_size": peak_size,
                "matmul_peak_measurements_gflops": [
                    {p: v / 1e9 for p, v in m.items()} for m in peaks
                ],
                "load_average_before_and_after": [load_before, list(os.getloadavg())],
                "batch": args.batch,
                "width": args.width,
                "warmup_steps": args.warmup,
                "timed_steps": args.steps,
                "records": [asdict(r) for r in results],
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
