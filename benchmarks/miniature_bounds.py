"""Check a finished run against the faithful miniature's bounds (docs/miniature.md, issue 29).

Per dataset and model: the mean out-of-fold Dice over every (case, phase, structure) of
``results/<dataset>/metrics/<model>.csv`` (bound: at least 0.80); per DMR training (model, fold):
its validation MAD at the last epoch over the first (at most 0.50), and for learned weightings the
range of sigma/L of both tasks from 30 % of its epochs to the last (within [0.8, 1.25]). Prints
one table per check and exits 1 when any bound fails.

    python benchmarks/miniature_bounds.py RUN_DIR [--out bounds.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dmr.train.history import EQUILIBRIUM_BAND, EQUILIBRIUM_FROM

DICE_MIN, MAD_RATIO_MAX = 0.80, 0.50


def dice_table(results: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(results.glob("*/metrics/*.csv")):
        metrics = pd.read_csv(path)
        rows.append({"dataset": path.parts[-3], "model": path.stem, "dice": metrics["dice"].mean()})
    table = pd.DataFrame(rows).pivot(index="model", columns="dataset", values="dice")
    return table


def training_table(results: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(results.glob("*/models/*/fold*/history.csv")):
        history = pd.read_csv(path)
        if history["val_mad"].isna().all():
            continue  # a base model: no distance maps
        late = history[history["epoch"] >= EQUILIBRIUM_FROM * len(history)]
        row = {
            "dataset": path.parts[-5],
            "model": path.parts[-3],
            "fold": path.parts[-2],
            "mad_last_over_first": history["val_mad"].iloc[-1] / history["val_mad"].iloc[0],
        }
        for task in ("ce", "mad"):
            ratios = late.get(f"sigma_{task}_ratio", pd.Series(dtype=float)).dropna()
            row[f"sigma_{task}_min"] = ratios.min() if len(ratios) else float("nan")
            row[f"sigma_{task}_max"] = ratios.max() if len(ratios) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the folder holding results/")
    parser.add_argument("--out", type=Path, help="write the per-training table here (CSV)")
    args = parser.parse_args(argv)
    results = args.run / "results"
    if not any(results.glob("*/metrics/*.csv")):
        parser.error(f"{results}: no results/<dataset>/metrics/<model>.csv (not a finished run?)")
    dice = dice_table(results)
    trainings = training_table(results)
    print("Mean out-of-fold Dice:\n")
    print(dice.round(3).to_string())
    print("\nDMR trainings:\n")
    print(trainings.round(3).to_string(index=False))
    learned = trainings.dropna(subset=["sigma_ce_min", "sigma_mad_min"])
    low, high = EQUILIBRIUM_BAND
    failures = {
        "Dice < 0.80": int((dice < DICE_MIN).sum().sum()),
        "MAD last/first > 0.50": int((trainings["mad_last_over_first"] > MAD_RATIO_MAX).sum()),
        "sigma/L outside [0.8, 1.25]": int(
            (
                (learned[["sigma_ce_min", "sigma_mad_min"]] < low).any(axis=1)
                | (learned[["sigma_ce_max", "sigma_mad_max"]] > high).any(axis=1)
            ).sum()
        ),
    }
    print(
        f"\n{dice.size} Dice cells, {len(trainings)} DMR trainings ({len(learned)} learned): "
        + ", ".join(f"{name}: {n}" for name, n in failures.items())
    )
    if args.out:
        trainings.to_csv(args.out, index=False)
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
