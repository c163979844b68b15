"""Which of the miniature's scales decides DMR-U-Net against U-Net on the phantoms.

For every combination of image size, network width and training seed this runs the workflow
(``snakemake``) on the embedded phantom datasets with only ``unet-base`` and ``unet-dmr``, up to
their out-of-fold metrics, then tabulates per run and dataset: the mean Dice of each model over
every test case, phase and structure, the paired Wilcoxon test of DMR against the baseline over
those (case, phase, structure) Dice values, DMR's sigma/L ratios (``history.csv``) from 30 % of
its epochs to the last, and its validation MAD at the last epoch over the first.

Everything else is ``config/config.yaml`` (the default), so the study answers "what if the
default were this size / width", with the learned sigmas at equilibrium (the default's
``sigma_lr_scale``). Results and the commands that made them: docs/miniature.md.

    python benchmarks/miniature_study.py --sizes 48 64 --widths 8 16 --seeds 0 1 \\
        --root /tmp/miniature-study --out docs/data/miniature_study.csv
"""

from __future__ import annotations

import argparse
import itertools
import math
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from miniature_bounds import training_table
from scipy.stats import wilcoxon

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("acdc", "lvsc")
MODELS = ("unet-base", "unet-dmr")


def overlay(size: int, width: int, seed: int, amp: str) -> dict:
    """The config keys a study run changes on top of config/config.yaml."""
    datasets = {
        name: {"preprocess": {"size": size}, "heldout": {"enabled": False}} for name in DATASETS
    }
    return {
        "datasets": datasets,
        "models": list(MODELS),
        "training": {
            "width": width,
            "seed": seed,
            "amp": {"true": True, "false": False}.get(amp, amp),
        },
    }


def run_workflow(directory: Path, config: dict, cores: int) -> float:
    """Run the workflow up to the two models' metrics in ``directory``; return its seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "study.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    targets = [f"results/{d}/metrics/{m}.csv" for d in DATASETS for m in MODELS]
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        *targets,
        "--directory",
        str(directory),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        str(directory / "study.yaml"),
        "--cores",
        str(cores),
        "--quiet",
        "all",
    ]
    started = time.perf_counter()
    with open(directory / "snakemake.log", "w", encoding="utf-8") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def sigma_bounds(directory: Path, dataset: str) -> dict[str, float]:
    """DMR's sigma/L ratios from 30 % of its epochs on, and its last/first validation MAD, over
    both folds (the per-training figures of ``miniature_bounds.py``)."""
    trainings = training_table(directory / "results")
    dmr = trainings[(trainings["dataset"] == dataset) & (trainings["model"] == "unet-dmr")]
    return {
        "sigma_ce_ratio_min": dmr["sigma_ce_min"].min(),
        "sigma_ce_ratio_max": dmr["sigma_ce_max"].max(),
        "sigma_mad_ratio_min": dmr["sigma_mad_min"].min(),
        "sigma_mad_ratio_max": dmr["sigma_mad_max"].max(),
        "val_mad_last_over_first_max": dmr["mad_last_over_first"].max(),
    }


def dice_comparison(directory: Path, dataset: str) -> dict[str, float]:
    """Mean Dice of both models and the paired Wilcoxon test over (case, phase, structure)."""
    frames = {}
    for model in MODELS:
        metrics = pd.read_csv(directory / "results" / dataset / "metrics" / f"{model}.csv")
        keys = [c for c in ("case", "phase", "structure") if c in metrics.columns]
        frames[model] = metrics.set_index(keys)["dice"]
    paired = pd.concat(frames, axis=1, join="inner").dropna()
    difference = paired["unet-dmr"] - paired["unet-base"]
    p_value = wilcoxon(difference).pvalue if (difference != 0).any() else math.nan
    return {
        "dice_base": paired["unet-base"].mean(),
        "dice_dmr": paired["unet-dmr"].mean(),
        "dmr_minus_base": difference.mean(),
        "wilcoxon_p": p_value,
        "n_pairs": len(paired),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--amp", default="false", help="training.amp of every run (false)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--root", type=Path, required=True, help="folder of the study's runs")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write (one row per run)")
    args = parser.parse_args(argv)
    rows = []
    for size, width, seed in itertools.product(args.sizes, args.widths, args.seeds):
        directory = args.root / f"size{size}_width{width}_seed{seed}"
        print(f"size {size} px, width {width}, seed {seed}: {directory}", flush=True)
        seconds = run_workflow(directory, overlay(size, width, seed, args.amp), args.cores)
        for dataset in DATASETS:
            row = {"size": size, "width": width, "seed": seed, "dataset": dataset}
            row |= dice_comparison(directory, dataset) | sigma_bounds(directory, dataset)
            rows.append(row | {"run_seconds": seconds})
            shown = (f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
            print("  " + ", ".join(shown), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.6g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
