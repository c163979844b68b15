"""Minutes per paper epoch and hours of a whole config grid, from measured benchmark figures.

Inputs: a ``train_throughput.py`` JSON (training images/s and no-grad ms/image per model, size
and precision), optionally a ``gpu_share.py`` JSON (aggregate images/s of N trainings sharing
the device) and ``data_throughput.py`` JSONs (what the data path delivers), and a config
(default ``config/paper.yaml``). For every dataset x model of the config:

- images per epoch: the labelled slices of the real dataset (``dmr.report.plan.
  REAL_LABELLED_SLICES``) times the training share of a fold (1 - test share - val_fraction;
  0.8 with the paper's 80/10/10) times (1 + augmented copies), plus a no-grad pass over the
  validation share;
- minutes per epoch at the measured speed of the model's architecture (ablation variants train
  at their architecture's DMR speed), beside the paper's Titan Xp minutes (Table I), which
  count the paper's 80 % training share;
- hours of its k fold trainings, summed over the grid, for one training per device and, with a
  ``gpu_share.py`` JSON, for N at once (the grid's hours divided by the measured N-job speed-up
  of the shared model; one model's speed-up stands in for all).

Run on demand, e.g.::

    python benchmarks/paper_grid.py --throughput tt.json --precision bf16 --share share.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from dmr.io import write_json
from dmr.report.plan import dataset_settings, real_epoch_shape, titan_xp_minutes, trains_as

ROOT = Path(__file__).resolve().parents[1]


def grid(config: dict, records: list[dict], precision: str) -> list[dict]:
    """One row per dataset x model: images and minutes per epoch, hours of its k trainings
    (the arithmetic of ``dmr.report.plan``, which a rehearsal's plan.md uses too)."""
    speed = {(r["model"], r["size"]): r for r in records if r["precision"] == precision}
    titan = titan_xp_minutes()
    rows = []
    for dataset in config["datasets"]:
        d = dataset_settings(config, dataset)
        try:
            shape = real_epoch_shape(d)
        except ValueError as exc:
            raise SystemExit(f"{dataset}: {exc}") from exc
        for model in config["models"]:
            kind = trains_as(config, model)
            record = speed.get((kind, d["size"]))
            if record is None:
                raise SystemExit(f"no {precision} record of {kind} at {d['size']} px")
            eval_ms = record["infer_ms_per_image_with_regularizer"] or record["infer_ms_per_image"]
            minutes = (
                shape.train_images / record["train_img_s"] + shape.val_images * eval_ms / 1e3
            ) / 60
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "trains_as": kind,
                    "size": d["size"],
                    "train_images_per_epoch": round(shape.train_images),
                    "val_images_per_epoch": round(shape.val_images),
                    "epochs": d["epochs"],
                    "folds": d["k"],
                    "train_img_s": record["train_img_s"],
                    "min_per_epoch": minutes,
                    "paper_titan_xp_min_per_epoch": titan.get((d["format"], kind)),
                    "hours": minutes * d["epochs"] * d["k"] / 60,
                }
            )
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--throughput", type=Path, required=True, help="train_throughput JSON")
    parser.add_argument("--precision", default="bf16", help="records to use (%(default)s)")
    parser.add_argument("--share", type=Path, help="gpu_share JSON (N trainings per device)")
    parser.add_argument("--data", type=Path, nargs="*", default=[], help="data_throughput JSONs")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "paper.yaml")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    throughput = json.loads(args.throughput.read_text())
    rows = grid(config, throughput["records"], args.precision)
    total_hours = sum(r["hours"] for r in rows)
    total_images = sum(r["train_images_per_epoch"] * r["epochs"] * r["folds"] for r in rows)
    sharing = [{"jobs": 1, "vs_one": 1.0, "grid_hours": total_hours}]
    if args.share is not None:
        share = json.loads(args.share.read_text())
        sharing = [
            {
                "jobs": run["jobs"],
                "vs_one": run["vs_one"],
                "grid_hours": total_hours / run["vs_one"],
            }
            for run in share["runs"]
        ]
    data = [json.loads(p.read_text()) for p in args.data]

    print(
        f"{args.config.name}: {len(rows)} dataset x model cells, {total_images / 1e6:.1f} M "
        f"training images, {args.precision} on {throughput.get('device_name', '?')}\n"
    )
    print(
        "| dataset | model | px | img/epoch | img/s | min/epoch | paper Titan Xp min/epoch "
        "| hours (k folds) |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        paper = r["paper_titan_xp_min_per_epoch"]
        print(
            f"| {r['dataset']} | {r['model']} | {r['size']} | {r['train_images_per_epoch']:,} "
            f"| {r['train_img_s']:.0f} | {r['min_per_epoch']:.2f} "
            f"| {'' if paper is None else f'{paper:.2f}'} | {r['hours']:.2f} |"
        )
    print("\n| trainings per device | speed-up | hours of the grid |\n|---|---|---|")
    for s in sharing:
        print(f"| {s['jobs']} | {s['vs_one']:.2f}x | {s['grid_hours']:.1f} |")
    for d in data:
        print(f"data path at {d['size']} px ({d['mode']}, {d['device']}): {d['img_s']:,.0f} img/s")
    if args.out is not None:
        write_json(
            args.out,
            {
                "config": str(args.config),
                "precision": args.precision,
                "device": throughput.get("device_name"),
                "training_images": total_images,
                "grid_hours": total_hours,
                "sharing": sharing,
                "data_img_s": {str(d["size"]): d["img_s"] for d in data},
                "rows": rows,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
