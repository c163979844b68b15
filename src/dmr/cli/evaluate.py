"""``dmr metrics`` (workflow predictions) and ``dmr evaluate`` (users' own predictions)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import add_format


def _add_metrics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="paper metrics of cross-validation predictions against the raw references"
    )
    add_format(p)
    p.add_argument("path", type=Path, help="raw dataset root (references)")
    p.add_argument(
        "--predictions", required=True, type=Path, help="folder of {case}_{phase}.nii.gz"
    )
    p.add_argument("--folds", required=True, type=Path, help="folds.csv (fold of each case)")
    p.add_argument("--dataset", required=True, help="dataset name recorded in the table")
    p.add_argument("--model", required=True, help="model name {arch}-{variant}")
    p.add_argument("--density", type=float, default=1.06, help="myocardium g/cm^3")
    p.add_argument("--slices", type=Path, help="per-slice metrics CSV to write")
    p.add_argument("--clinical", type=Path, help="per-case clinical indices CSV to write")
    p.add_argument("-o", "--output", required=True, type=Path, help="metrics CSV to write")
    p.set_defaults(handler=_cmd_metrics)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from dmr.evaluation.evaluate import evaluate_cross_validation
    from dmr.io import write_csv

    result = evaluate_cross_validation(
        args.format,
        args.path,
        predictions=args.predictions,
        folds_csv=args.folds,
        dataset=args.dataset,
        model=args.model,
        density=args.density,
        options=args.reader_options,
    )
    write_csv(args.output, result.metrics)
    if args.slices is not None:
        write_csv(args.slices, result.slices)
    if args.clinical is not None:
        write_csv(args.clinical, result.clinical)
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="paper metrics for your own NIfTI predictions (files matched by name)",
        description="Labels 0 bg, 1 RV, 2 myocardium, 3 LV; distances in mm from the headers.",
    )
    p.add_argument("gt_dir", type=Path, help="folder of reference label maps")
    p.add_argument("pred_dir", type=Path, help="folder of predicted label maps (same names)")
    p.add_argument("-o", "--output", required=True, type=Path, help="metrics CSV to write")
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from dmr.evaluation.evaluate import evaluate_folders
    from dmr.io import write_csv

    metrics = evaluate_folders(args.gt_dir, args.pred_dir)
    write_csv(args.output, metrics)
    print(metrics.groupby("structure")[["dice", "hd_mm"]].mean().to_string())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_metrics(sub)
    _add_evaluate(sub)
