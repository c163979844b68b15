"""``dmr preprocess``, ``dmr augment`` and ``dmr folds``: slices, augmented copies, folds."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import add_format


def _add_preprocess(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preprocess", help="resample, crop/pad, normalise; slices + distance maps")
    add_format(p)
    p.add_argument("path", type=Path, help="raw dataset root")
    p.add_argument("--spacing", type=float, default=1.5625, help="in-plane mm (%(default)s)")
    p.add_argument("--size", type=int, default=256, help="crop/pad size in pixels (%(default)s)")
    p.add_argument("--clip-percentile", type=float, default=99.0, help="(%(default)s)")
    p.add_argument(
        "--frames",
        choices=("ed_es", "all"),
        default="ed_es",
        help="labelled frames used for training (%(default)s)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    p.set_defaults(handler=_cmd_preprocess)


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from dmr.preprocess import preprocess_dataset

    preprocess_dataset(
        args.format,
        args.path,
        args.output,
        spacing=args.spacing,
        size=args.size,
        clip_percentile=args.clip_percentile,
        frames=args.frames,
        options=args.reader_options,
    )
    return 0


def _add_augment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="random similarity-transform copies of every slice")
    p.add_argument("preprocessed", type=Path, help="output folder of `dmr preprocess`")
    p.add_argument("--copies", type=int, required=True, help="extra copies per slice")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, nargs=2, default=(0.8, 1.2), metavar=("MIN", "MAX"))
    p.add_argument("--rotation", type=float, nargs=2, default=(0.0, 360.0), metavar=("MIN", "MAX"))
    p.add_argument(
        "--translation", type=float, default=0.125, help="max shift as a fraction of the size"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    p.set_defaults(handler=_cmd_augment)


def _cmd_augment(args: argparse.Namespace) -> int:
    from dmr.preprocess.augment import augment_dataset

    augment_dataset(
        args.preprocessed,
        args.output,
        copies=args.copies,
        seed=args.seed,
        scale=tuple(args.scale),
        rotation=tuple(args.rotation),
        translation=args.translation,
    )
    return 0


def _add_folds(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("folds", help="K-fold train/val/test split by case (stratified by group)")
    p.add_argument("cases", type=Path, help="cases.csv written by `dmr preprocess`")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="cases per test fold as a fraction of all cases (the paper: 0.1, so five folds "
        "test half the cases); default: the test folds partition every case",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--stratify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stratify by group when groups are known (%(default)s)",
    )
    p.add_argument(
        "--leave-one-group-out",
        action="store_true",
        help="one fold per group, testing that group and training on the others (M&Ms with "
        "groups = vendors: leave-one-vendor-out); --k must be the number of groups",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="folds.csv to write")
    p.set_defaults(handler=_cmd_folds)


def _cmd_folds(args: argparse.Namespace) -> int:
    import pandas as pd

    from dmr.errors import DatasetError
    from dmr.io import write_csv
    from dmr.preprocess.folds import leave_one_group_out, make_folds

    if args.leave_one_group_out:
        try:
            folds = leave_one_group_out(
                pd.read_csv(args.cases, dtype={"case": str, "group": str}),
                k=args.k,
                val_fraction=args.val_fraction,
                seed=args.seed,
            )
        except ValueError as exc:  # the data disagree with the config: say which file
            raise DatasetError(f"{args.cases}: {exc}") from exc
        write_csv(args.output, folds)
        return 0
    folds = make_folds(
        pd.read_csv(args.cases),
        k=args.k,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        stratify=args.stratify,
    )
    write_csv(args.output, folds)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_preprocess(sub)
    _add_augment(sub)
    _add_folds(sub)
