"""Aggregate training images/s of N trainings sharing one device (``training.gpu_slots``).

One model's training steps (as ``train_throughput.py`` times them: forward, loss, backward,
RMSprop; random batches already on the device, so the data path is not part of it) run in N
processes at once, for each N of ``--jobs``. Each process warms up, waits at a barrier, then
trains for ``--seconds``; the aggregate images/s of the N processes, its ratio to one process,
and each process's peak device memory (CUDA) say how many trainings pay to share a GPU.

Run on demand (never in the test suite), e.g.::

    python benchmarks/gpu_share.py --device cuda --model unet-dmr --size 256 --jobs 1 2 4 8
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import AUTOCAST, MODEL_NAMES, NUM_CLASSES, make_train_step

from dmr.io import write_json
from dmr.models import build_model
from dmr.train.allocator import reuse_freed_memory

LOG = logging.getLogger("gpu_share")


def worker(args: argparse.Namespace, barrier, results) -> None:
    """One training process: warm up, wait for the others, train for ``args.seconds``."""
    reuse_freed_memory()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    arch, variant = args.model.split("-")
    regularized = variant == "dmr"
    torch.manual_seed(0)
    model = build_model(arch, regularized, num_classes=NUM_CLASSES, width=args.width)
    model = model.to(device, memory_format=torch.channels_last).train()
    size, batch = args.size, args.batch
    image = torch.randn(batch, 1, size, size, device=device)
    image = image.contiguous(memory_format=torch.channels_last)
    target = torch.randint(0, NUM_CLASSES, (batch, size, size), device=device)
    dists = torch.randn(batch, NUM_CLASSES - 1, size, size, device=device)
    step = make_train_step(model, regularized, (image, target, dists), AUTOCAST[args.precision])
    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    barrier.wait()
    started = time.perf_counter()
    steps = 0
    while time.perf_counter() - started < args.seconds:
        step()
        steps += 1
        if device.type == "cuda" and steps % 10 == 0:
            torch.cuda.synchronize(device)  # keep the clock honest: no unbounded queue
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    results.put({"images": steps * batch, "seconds": elapsed, "peak_device_bytes": peak})


def measure(args: argparse.Namespace, jobs: int) -> dict:
    context = mp.get_context("spawn")
    barrier = context.Barrier(jobs)
    results = context.Queue()
    processes = [context.Process(target=worker, args=(args, barrier, results)) for _ in range(jobs)]
    for process in processes:
        process.start()
    per_process = [results.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a training process exited with {process.exitcode}")
    return {
        "jobs": jobs,
        "img_s": sum(r["images"] / r["seconds"] for r in per_process),
        "peak_device_gib_per_job": max(r["peak_device_bytes"] for r in per_process) / 2**30,
        "per_process": per_process,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODEL_NAMES, default="unet-dmr", help="(%(default)s)")
    parser.add_argument("--size", type=int, default=256, help="(%(default)s)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4], help="(%(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="(%(default)s)")
    parser.add_argument("--warmup", type=int, default=5, help="(%(default)s)")
    parser.add_argument("--batch", type=int, default=15, help="(%(default)s)")
    parser.add_argument("--width", type=int, default=32, help="(%(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--device", default="cuda", help="(%(default)s)")
    parser.add_argument("--precision", choices=tuple(AUTOCAST), default="bf16")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if min(args.jobs) < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--jobs >= 1, --seconds > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    runs = []
    for jobs in args.jobs:
        runs.append(measure(args, jobs))
        LOG.info("%d job(s): %.1f images/s in all", jobs, runs[-1]["img_s"])
    single = next((r["img_s"] for r in runs if r["jobs"] == 1), None)
    print(
        f"{args.model}, {args.size} px, batch {args.batch}, width {args.width}, "
        f"{args.precision}, {args.device}\n\n| trainings | images/s in all | vs one "
        "| peak device GiB each |\n|---|---|---|---|"
    )
    for r in runs:
        r["vs_one"] = r["img_s"] / single if single else None
        ratio = f"{r['vs_one']:.2f}x" if single else ""
        print(f"| {r['jobs']} | {r['img_s']:.1f} | {ratio} | {r['peak_device_gib_per_job']:.2f} |")
    if args.out is not None:
        write_json(
            args.out,
            {
                "model": args.model,
                "size": args.size,
                "batch": args.batch,
                "width": args.width,
                "precision": args.precision,
                "device": args.device,
                "torch": torch.__version__,
                "runs": runs,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
