"""Minutes per paper epoch and hours of a whole config grid, from measured benchmark figures.

Inputs: a ``train_throughput.py`` JSON (training images/s and no-grad ms/image per model, size
and precision), optionally a ``gpu_share.py`` JSON (aggregate images/s of N trainings sharing
the device) and ``data_throughput.py`` JSONs (what the data path delivers), and a config
(default ``config/paper.yaml``). For every dataset x model of the config:

- images per epoch: the labelled slices of the real dataset (ACDC ~1,902 ED + ES slices of 100
  studies; LVSC ~19,000 slices of every frame, as ``train_throughput.PAPER_EPOCHS``) times the
  training share of a fold (1 - 1/k - val_fraction; 0.7 with k = 5) times (1 + augmented
  copies), plus a no-grad pass over the validation share;
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import PAPER_EPOCHS, PAPER_TITAN_XP_MIN_PER_EPOCH

from dmr.io import write_json

ROOT = Path(__file__).resolve().parents[1]
#: Labelled slices of the real datasets by (format, frames), from train_throughput.PAPER_EPOCHS.
LABELLED_SLICES: dict[tuple[str, str], int] = {
    ("acdc", "ed_es"): PAPER_EPOCHS[256].labelled_slices,
    ("lvsc", "all"): PAPER_EPOCHS[192].labelled_slices,
}


def defaults(config: dict, dataset: str) -> dict:
    """The dataset's settings the grid depends on, with the schema's defaults."""
    entry = config["datasets"][dataset]
    pre, aug, folds = (entry.get(k, {}) for k in ("preprocess", "augment", "folds"))
    training = config.get("training", {}) | entry.get("training", {})
    return {
        "format": entry["format"],
        "frames": pre.get("frames", "ed_es"),
        "size": pre.get("size", 256),
        "copies": aug.get("copies", 4),
        "k": folds.get("k", 5),
        "val_fraction": folds.get("val_fraction", 0.1),
        "epochs": training.get("epochs", 100),
    }


def kind_of(config: dict, model: str) -> str:
    """The benchmarked network a model trains as: ``{arch}-base`` or ``{arch}-dmr``."""
    arch, _, variant = model.partition("-")
    loss = config["variants"][variant]["loss"]
    return f"{arch}-{'dmr' if loss == 'dmr' else 'base'}"


def grid(config: dict, records: list[dict], precision: str) -> list[dict]:
    """One row per dataset x model: images and minutes per epoch, hours of its k trainings."""
    speed = {(r["model"], r["size"]): r for r in records if r["precision"] == precision}
    rows = []
    for dataset in config["datasets"]:
        d = defaults(config, dataset)
        slices = LABELLED_SLICES.get((d["format"], d["frames"]))
        if slices is None:
            raise SystemExit(f"{dataset}: no labelled-slice count for {d['format']} {d['frames']}")
        train_images = slices * (1 - 1 / d["k"] - d["val_fraction"]) * (1 + d["copies"])
        val_images = slices * d["val_fraction"]
        for model in config["models"]:
            kind = kind_of(config, model)
            record = speed.get((kind, d["size"]))
            if record is None:
                raise SystemExit(f"no {precision} record of {kind} at {d['size']} px")
            eval_ms = record["infer_ms_per_image_with_regularizer"] or record["infer_ms_per_image"]
            minutes = (train_images / record["train_img_s"] + val_images * eval_ms / 1e3) / 60
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "trains_as": kind,
                    "size": d["size"],
                    "train_images_per_epoch": round(train_images),
                    "val_images_per_epoch": round(val_images),
                    "epochs": d["epochs"],
                    "folds": d["k"],
                    "train_img_s": record["train_img_s"],
                    "min_per_epoch": minutes,
                    "paper_titan_xp_min_per_epoch": PAPER_TITAN_XP_MIN_PER_EPOCH.get(kind, {}).get(
                        d["format"]
                    ),
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
