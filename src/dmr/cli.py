"""The ``dmr`` command: one subcommand per workflow step, each a thin shell over one library call.

Heavy libraries (torch, SimpleITK, pandas) are imported inside the handlers so that ``dmr --help``
and light steps start fast; every Snakemake rule pays this start-up cost once per job.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dmr.errors import DmrError

log = logging.getLogger("dmr")

FORMATS = ("acdc", "lvsc")
ARCHS = ("segnet", "usegnet", "unet")


# --------------------------------------------------------------------------- data stage
def _add_phantoms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "phantoms",
        help="generate synthetic cine-MR phantoms in a real dataset's on-disk format",
        description="Write a deterministic synthetic dataset in the ACDC or LVSC on-disk layout.",
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="on-disk format to write")
    p.add_argument("--cases", type=int, required=True, help="number of training cases")
    p.add_argument(
        "--testing-cases", type=int, default=0, help="cases in the unlabelled testing split"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--domain-json",
        default="{}",
        help="JSON object overriding the format's scanner-domain parameters (default: %(default)s)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="dataset root to create")
    p.set_defaults(handler=_cmd_phantoms)


def _cmd_phantoms(args: argparse.Namespace) -> int:
    domain = _parse_json_object(args.domain_json, "--domain-json")
    from dmr.datasets.phantom import generate_dataset

    generate_dataset(
        args.format,
        args.output,
        n_cases=args.cases,
        n_testing=args.testing_cases,
        seed=args.seed,
        domain=domain,
    )
    log.info("wrote %s phantom dataset to %s", args.format, args.output)
    return 0


def _add_figure_phantoms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "figure-phantoms", help="ED/ES mid-ventricular slices with label overlays, per group"
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("path", type=Path, help="dataset root")
    p.add_argument("-o", "--output", required=True, type=Path, help="PNG to write")
    p.set_defaults(handler=_cmd_figure_phantoms)


def _cmd_figure_phantoms(args: argparse.Namespace) -> int:
    from dmr.figures import plot_dataset_overview

    plot_dataset_overview(args.format, args.path, args.output)
    return 0


def _add_check_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-data",
        help="verify a raw dataset folder; exit 0 when it is usable",
        description="Report every problem found (file and problem), never modifying the data.",
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("path", type=Path, help="dataset root")
    p.add_argument("-o", "--output", type=Path, help="JSON report to write")
    p.set_defaults(handler=_cmd_check_data)


def _cmd_check_data(args: argparse.Namespace) -> int:
    from dmr.datasets.checks import check_dataset

    report = check_dataset(args.format, args.path)
    if args.output is not None:
        from dmr.io import write_json

        write_json(args.output, report.to_dict())
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not report.ok:
        print(f"{args.path}: {len(report.problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{args.path}: {report.summary()}")
    return 0


# --------------------------------------------------------------------------- preprocessing
def _add_preprocess(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preprocess", help="resample, crop/pad, normalise; slices + distance maps")
    p.add_argument("--format", required=True, choices=FORMATS)
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
    from dmr.augment import augment_dataset

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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--stratify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stratify by group when groups are known (%(default)s)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="folds.csv to write")
    p.set_defaults(handler=_cmd_folds)


def _cmd_folds(args: argparse.Namespace) -> int:
    import pandas as pd

    from dmr.folds import make_folds
    from dmr.io import write_csv

    folds = make_folds(
        pd.read_csv(args.cases),
        k=args.k,
        val_fraction=args.val_fraction,
        seed=args.seed,
        stratify=args.stratify,
    )
    write_csv(args.output, folds)
    return 0


# --------------------------------------------------------------------------- torch jobs' options
def _add_reuse_freed_memory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reuse-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let glibc's malloc keep freed tensor memory for reuse: CPU steps at 256 px "
        "1.15-1.4x faster, peak memory up to ~2 GiB higher (%(default)s)",
    )


def _apply_reuse_freed_memory(args: argparse.Namespace) -> None:
    if args.reuse_freed_memory:
        from dmr.allocator import reuse_freed_memory

        reuse_freed_memory()


# --------------------------------------------------------------------------- training
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one model on one fold")
    p.add_argument("--preprocessed", required=True, type=Path)
    p.add_argument("--augmented", type=Path, help="output of `dmr augment` (optional)")
    p.add_argument("--folds", required=True, type=Path, help="folds.csv")
    p.add_argument("--fold", required=True, type=int)
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--model-name", required=True, help="name recorded in outputs, e.g. unet-dmr")
    p.add_argument("--loss", choices=("ce", "dmr"), default="ce", help="(%(default)s)")
    p.add_argument(
        "--weighting",
        choices=("learned", "fixed"),
        default="learned",
        help="task weighting of the dmr loss (%(default)s)",
    )
    p.add_argument("--threshold", type=float, default=250.0, help="distance map T in pixels")
    p.add_argument("--width", type=int, default=32, help="channels of the first level")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=15)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-decay", type=float, default=0.99, help="per-epoch lr factor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (%(default)s)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (%(default)s)")
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mixed precision on CUDA (%(default)s)",
    )
    p.add_argument(
        "--checkpoint-activations",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="recompute full-resolution blocks in the backward pass: ~half the activation "
        "memory, same results (%(default)s)",
    )
    _add_reuse_freed_memory(p)
    p.add_argument(
        "--ckpt-dir", required=True, type=Path, help="per-epoch resume checkpoints (kept)"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="model folder to write")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from dmr.train import TrainConfig, train

    _apply_reuse_freed_memory(args)
    cfg = TrainConfig(
        preprocessed=args.preprocessed,
        augmented=args.augmented,
        folds=args.folds,
        fold=args.fold,
        arch=args.arch,
        model_name=args.model_name,
        loss=args.loss,
        weighting=args.weighting,
        threshold=args.threshold,
        width=args.width,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_decay=args.lr_decay,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        amp=args.amp,
        checkpoint_activations=args.checkpoint_activations,
        ckpt_dir=args.ckpt_dir,
        output=args.output,
    )
    train(cfg)
    return 0


# --------------------------------------------------------------------------- inference
def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="segment your own short-axis NIfTI stack",
        description=(
            "MODEL may be a model.pt file, a fold folder holding model.pt, or a model folder "
            "holding fold*/model.pt (then the folds vote per pixel). Repeat --model to ensemble."
        ),
    )
    p.add_argument("--model", required=True, action="append", type=Path, help="model to use")
    p.add_argument("input", type=Path, help="3-D short-axis image (.nii/.nii.gz)")
    p.add_argument("-o", "--output", required=True, type=Path, help="label map to write")
    p.add_argument("--device", default="auto")
    _add_reuse_freed_memory(p)
    p.set_defaults(handler=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from dmr.predict import predict_file

    _apply_reuse_freed_memory(args)
    predict_file(args.model, args.input, args.output, device=args.device)
    return 0


def _add_predict_cv(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict-cv", help="predict every test case of every fold with that fold's model"
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("path", type=Path, help="raw dataset root")
    p.add_argument("--folds", required=True, type=Path, help="folds.csv")
    p.add_argument("--models", required=True, type=Path, help="model folder holding fold*/model.pt")
    p.add_argument("--phases", nargs="+", default=["ED", "ES"])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timing", type=Path, help="CSV of inference ms per volume to write")
    p.add_argument("-o", "--output", required=True, type=Path, help="prediction folder")
    _add_reuse_freed_memory(p)
    p.set_defaults(handler=_cmd_predict_cv)


def _cmd_predict_cv(args: argparse.Namespace) -> int:
    from dmr.predict import predict_cross_validation

    _apply_reuse_freed_memory(args)
    predict_cross_validation(
        args.format,
        args.path,
        folds_csv=args.folds,
        models_dir=args.models,
        phases=args.phases,
        output=args.output,
        timing_csv=args.timing,
        device=args.device,
        threads=args.threads,
    )
    return 0


# --------------------------------------------------------------------------- evaluation
def _add_metrics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="paper metrics of cross-validation predictions against the raw references"
    )
    p.add_argument("--format", required=True, choices=FORMATS)
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
    from dmr.evaluate import evaluate_cross_validation
    from dmr.io import write_csv

    result = evaluate_cross_validation(
        args.format,
        args.path,
        predictions=args.predictions,
        folds_csv=args.folds,
        dataset=args.dataset,
        model=args.model,
        density=args.density,
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
    from dmr.evaluate import evaluate_folders
    from dmr.io import write_csv

    metrics = evaluate_folders(args.gt_dir, args.pred_dir)
    write_csv(args.output, metrics)
    print(metrics.groupby("structure")[["dice", "hd_mm"]].mean().to_string())
    return 0


# --------------------------------------------------------------------------- tables
def _add_table1(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table1", help="Table I: parameters, train min/epoch, test ms/volume")
    p.add_argument("--histories", nargs="+", required=True, type=Path, help="history.csv files")
    p.add_argument("--timings", nargs="+", required=True, type=Path, help="predict timing CSVs")
    p.add_argument("--width", type=int, default=32, help="width the parameters are counted at")
    p.add_argument("--out-prefix", required=True, type=Path, help="writes PREFIX.{csv,md,tex}")
    p.set_defaults(handler=_cmd_table1)


def _cmd_table1(args: argparse.Namespace) -> int:
    from dmr.tables import table1, write_table

    write_table(table1(args.histories, args.timings, width=args.width), args.out_prefix)
    return 0


def _add_table2a(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table2a", help="Table II(a): mean segmentation metrics with Wilcoxon marks")
    p.add_argument("--metrics", nargs="+", required=True, type=Path, help="metrics CSVs")
    p.add_argument("--out-prefix", required=True, type=Path, help="writes PREFIX.{csv,md,tex}")
    p.set_defaults(handler=_cmd_table2a)


def _cmd_table2a(args: argparse.Namespace) -> int:
    import pandas as pd

    from dmr.tables import table2a, write_table

    metrics = pd.concat([pd.read_csv(p) for p in args.metrics], ignore_index=True)
    write_table(table2a(metrics), args.out_prefix)
    return 0


# --------------------------------------------------------------------------- plumbing
def _parse_json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DmrError(f"{option}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise DmrError(f"{option}: expected a JSON object, got {type(value).__name__}")
    return value


_PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_phantoms,
    _add_figure_phantoms,
    _add_check_data,
    _add_preprocess,
    _add_augment,
    _add_folds,
    _add_train,
    _add_predict,
    _add_predict_cv,
    _add_metrics,
    _add_evaluate,
    _add_table1,
    _add_table2a,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``dmr`` argument parser with every subcommand registered."""
    from dmr import __version__

    parser = argparse.ArgumentParser(
        prog="dmr",
        description="Distance Map Regularized CNNs for cardiac cine MR segmentation.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dmr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _PARSERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dmr`` console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except (DmrError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        print(f"dmr {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
