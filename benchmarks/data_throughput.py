"""Images/s the training data path delivers, in the mode ``dmr train`` chooses on this machine.

A synthetic preprocessed folder in the documented format (``--slices`` slices at ``--size`` px,
float32 images, uint8 labels, float16 distance maps with ``--classes - 1`` channels; written
once under ``benchmarks/out/data_throughput/`` and then in the page cache) is opened with
``dmr.train.data.build_datasets`` and fed through ``dmr.train.batches.build_feeders``, the code
``dmr train`` runs: the same memory decision (``--data-on-device``, ``--data-memory-fraction``),
the same batches (batch 15, shuffled by ``dmr.train.data.batch_order``), delivered on ``--device``
as the network takes them (float32 images, int64 labels, float32 distance maps truncated at
T). Nothing consumes the batches, so the figure is the data path's ceiling; on CUDA the device
is synchronised before the clock is read.

For comparison it also times the synchronous per-batch file reads ``dmr train`` used before
(``dmr.train.data.iterate_batches``), and, with ``--all-modes``, every other residency that can run
here. Distance maps are gathered as for DMR models unless ``--base`` (base models never read
them).

Run on demand (never in the test suite), e.g.::

    python benchmarks/data_throughput.py --size 256 --threads 2 --out data.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dmr.io import write_json
from dmr.preprocess.npy import NpyRowWriter
from dmr.train.allocator import reuse_freed_memory
from dmr.train.batches import BatchFeeder, build_feeders
from dmr.train.data import build_datasets, iterate_batches
from dmr.train.residency import DEFAULT_MEMORY_FRACTION

LOG = logging.getLogger("data_throughput")
DEFAULT_WORK = Path(__file__).resolve().parent / "out" / "data_throughput"
SLICES_PER_CASE = 10
THRESHOLD = 250.0


def write_folder(folder: Path, slices: int, size: int, classes: int) -> Path:
    """A preprocessed folder and a folds.csv whose fold 0 trains on every case but two."""
    spec = {"slices": slices, "size": size, "classes": classes}
    marker = folder / "spec.json"
    if marker.is_file() and json.loads(marker.read_text()) == spec:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    LOG.info("writing %d synthetic %d px slices to %s", slices, size, folder)
    rng = np.random.default_rng(0)
    shapes = {
        "images.npy": ((slices, size, size), np.float32),
        "labels.npy": ((slices, size, size), np.uint8),
        "distmaps.npy": ((slices, classes - 1, size, size), np.float16),
    }
    chunk = 64
    for name, (shape, dtype) in shapes.items():
        with NpyRowWriter(folder / name, shape, dtype) as writer:
            for start in range(0, slices, chunk):
                n = min(chunk, slices - start)
                if name == "labels.npy":
                    block = rng.integers(0, classes, (n, *shape[1:]), dtype=np.uint8)
                else:
                    block = rng.standard_normal((n, *shape[1:]), dtype=np.float32) * 100
                    if name == "distmaps.npy":
                        block[:, :, :4] = -np.inf  # absent classes are stored as -inf
                writer.write(block)
    cases = [f"c{i // SLICES_PER_CASE:04d}" for i in range(slices)]
    table = pd.DataFrame(
        {
            "index": range(slices),
            "case": cases,
            "group": "NOR",
            "frame": 1,
            "phase": "ED",
            "slice": [i % SLICES_PER_CASE for i in range(slices)],
            "n_slices": SLICES_PER_CASE,
            "has_foreground": True,
            "region": "mid",
        }
    )
    table.to_csv(folder / "slices.csv", index=False)
    meta = {
        "format": "acdc",
        "spacing": 1.5625,
        "size": size,
        "clip_percentile": 99.0,
        "frames": "ed_es",
        "structures": ["rv", "myo", "lv"][: classes - 1],
        "label_values": list(range(classes)),
        "num_classes": classes,
        "n_slices": slices,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    unique = sorted(set(cases))
    split = {case: "train" for case in unique} | {unique[-2]: "val", unique[-1]: "test"}
    folds = pd.DataFrame(
        {"fold": 0, "case": unique, "group": "NOR", "split": [split[c] for c in unique]}
    )
    folds.to_csv(folder / "folds.csv", index=False)
    marker.write_text(json.dumps(spec))
    return folder


def epoch_rates(batches_of_epoch, n_images: int, epochs: int, device: torch.device) -> list:
    """Images/s of each of ``epochs`` passes (``batches_of_epoch(epoch)`` yields the batches)."""
    rates = []
    for epoch in range(epochs):
        started = time.perf_counter()
        count = 0
        for batch in batches_of_epoch(epoch):
            count += len(batch[0])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        assert count == n_images
        rates.append(n_images / (time.perf_counter() - started))
    return rates


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="slice size in px (%(default)s)")
    parser.add_argument("--slices", type=int, default=2000, help="(%(default)s)")
    parser.add_argument("--classes", type=int, default=4, help="ACDC 4, LVSC 2 (%(default)s)")
    parser.add_argument("--batch", type=int, default=15, help="(%(default)s)")
    parser.add_argument("--epochs", type=int, default=3, help="timed passes (%(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (%(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (%(default)s)")
    parser.add_argument("--data-on-device", default="auto", choices=("auto", "true", "false"))
    parser.add_argument(
        "--data-memory-fraction", type=float, default=DEFAULT_MEMORY_FRACTION, help="(%(default)s)"
    )
    parser.add_argument("--base", action="store_true", help="no distance maps (base models)")
    parser.add_argument(
        "--all-modes", action="store_true", help="also time every other residency possible here"
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="(%(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.slices < 3 * SLICES_PER_CASE or args.epochs < 1 or args.batch < 1:
        parser.error(f"--slices >= {3 * SLICES_PER_CASE}, --epochs >= 1, --batch >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    reused = reuse_freed_memory()  # as dmr train does
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    distances = not args.base
    folder = write_folder(
        args.work / f"{args.size}px_{args.slices}_{args.classes}c",
        args.slices,
        args.size,
        args.classes,
    )
    train_ds, _, _ = build_datasets(folder, None, folder / "folds.csv", 0, THRESHOLD)
    n = len(train_ds)
    # Files in the page cache, as they are after the first epoch of a training.
    for _ in iterate_batches(train_ds, 64, shuffle=False):
        pass
    load_average = [os.getloadavg()[0]]

    started = time.perf_counter()
    (feeder,), residency = build_feeders(
        [train_ds],
        device,
        distances=distances,
        setting=args.data_on_device,
        fraction=args.data_memory_fraction,
    )
    load_seconds = time.perf_counter() - started
    feeders = {residency.where: feeder}
    if args.all_modes:
        for where in ("device", "host", "disk"):
            if where not in feeders and (where != "device" or device.type == "cuda"):
                feeders[where] = BatchFeeder(train_ds, device, where, distances=distances)

    def feed(f: BatchFeeder):
        return lambda epoch: f.batches(args.batch, shuffle=True, seed=0, epoch=epoch)

    def read(epoch: int):
        for batch in iterate_batches(train_ds, args.batch, shuffle=True, seed=0, epoch=epoch):
            yield tuple(t.to(device) if t is not None else None for t in batch)

    records = []
    timed = [(where, feed(f)) for where, f in feeders.items()] + [("read_batch", read)]
    for mode, batches in timed:
        rates = epoch_rates(batches, n, args.epochs, device)
        records.append(
            {
                "mode": mode,
                "chosen": mode == residency.where,
                "img_s": max(rates),
                "img_s_median": statistics.median(rates),
                "img_s_per_epoch": rates,
            }
        )
        LOG.info(
            "%s: best %.0f images/s, median %.0f", mode, max(rates), records[-1]["img_s_median"]
        )
    load_average.append(os.getloadavg()[0])

    chosen = next(r for r in records if r["chosen"])
    old = next(r for r in records if r["mode"] == "read_batch")
    print(
        f"{args.size} px, batch {args.batch}, {n} shuffled slices, distance maps: {distances}, "
        f"{torch.get_num_threads()} thread(s), device {device}, load average "
        f"{load_average[0]:.2f} -> {load_average[1]:.2f}\n"
        f"dmr train's choice: {residency.describe()} (loaded in {load_seconds:.1f} s)\n"
    )
    print("| data path | images/s (best) | median |\n|---|---|---|")
    for r in records:
        label = r["mode"] + (" (chosen)" if r["chosen"] else "")
        print(f"| {label} | {r['img_s']:,.0f} | {r['img_s_median']:,.0f} |")
    print(f"\nchosen vs per-batch file reads: {chosen['img_s'] / old['img_s']:.1f}x")
    if args.out is not None:
        write_json(
            args.out,
            {
                "img_s": chosen["img_s"],
                "img_s_median": chosen["img_s_median"],
                "mode": residency.where,
                "reason": residency.describe(),
                "needed_bytes": residency.needed,
                "load_seconds": load_seconds,
                "read_batch_img_s": old["img_s"],
                "size": args.size,
                "batch": args.batch,
                "slices": n,
                "classes": args.classes,
                "distances": distances,
                "threads": torch.get_num_threads(),
                "device": str(device),
                "torch": torch.__version__,
                "reuse_freed_memory": reused,
                "load_average_before_and_after": load_average,
                "records": records,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
