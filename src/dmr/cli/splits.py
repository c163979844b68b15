"""``dmr predict-split`` and ``dmr metrics-split``: K-fold ensembles on whole dataset splits
(held-out test sets, Tables III and V; cross-dataset evaluation, Table VI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import (
    FORMATS,
    add_format,
    add_inference_amp,
    add_reuse_freed_memory,
    apply_reuse_freed_memory,
)
from dmr.datasets.frames import FRAME_SETS
from dmr.errors import DmrError

SPLITS = ("training", "testing", "validation")


def _add_split_source(p: argparse.ArgumentParser) -> None:
    add_format(p, help="format of the raw data")
    p.add_argument("path", type=Path, help="raw dataset root")
    p.add_argument("--split", default="training", choices=SPLITS, help="(%(default)s)")
    p.add_argument(
        "--references",
        type=Path,
        help="folder of reference masks kept apart from the images (LVSC consensus images)",
    )
    p.add_argument(
        "--frames",
        default="ed_es",
        choices=FRAME_SETS,
        help="ED and ES of every case, every frame with a reference, or every frame (%(default)s)",
    )


def _add_predict_split(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict-split",
        help="segment every case of a split with the majority vote of the fold models",
    )
    _add_split_source(p)
    p.add_argument(
        "--models",
        required=True,
        nargs="+",
        type=Path,
        help="model folder(s) holding fold*/model.pt; every fold model votes",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    add_inference_amp(p)
    add_reuse_freed_memory(p)
    p.add_argument(
        "--each-model",
        type=Path,
        help="also write each model's own prediction to EACH_MODEL/fold<k>/ (cross-dataset "
        "evaluation checks that a difference replicates in every fold's network)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="prediction folder")
    p.set_defaults(handler=_cmd_predict_split)


def _cmd_predict_split(args: argparse.Namespace) -> int:
    from dmr.inference.predict_split import predict_split

    apply_reuse_freed_memory(args)
    predict_split(
        args.format,
        args.path,
        split=args.split,
        models=args.models,
        output=args.output,
        frames=args.frames,
        references=args.references,
        device=args.device,
        threads=args.threads,
        amp=args.amp,
        options=args.reader_options,
        each_model=args.each_model,
    )
    return 0


def _add_metrics_split(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics-split",
        help="paper metrics of a split's ensemble predictions against its references",
    )
    _add_split_source(p)
    p.add_argument("--predictions", required=True, type=Path, help="folder of predict-split")
    p.add_argument("--dataset", required=True, help="dataset column, e.g. acdc or acdc_to_lvsc")
    p.add_argument("--model", required=True, help="model name {arch}-{variant}")
    p.add_argument(
        "--train-format",
        choices=FORMATS,
        help="format the model was trained on: only the structures both formats annotate are "
        "scored (cross-dataset evaluation)",
    )
    p.add_argument(
        "--structures",
        help="comma-separated structures to score (rv, myo, lv; default: all the test data "
        "annotate); cross-dataset evaluation passes those both datasets annotate",
    )
    p.add_argument(
        "--roi-margin-mm",
        type=float,
        help="also count TP/FP/FN/TN per slice inside the LVSC challenge's region of interest",
    )
    p.add_argument("--density", type=float, default=1.06, help="myocardium g/cm^3")
    p.add_argument("--slices", required=True, type=Path, help="per-slice CSV to write")
    p.add_argument("--clinical", required=True, type=Path, help="clinical indices CSV to write")
    p.add_argument("--status", required=True, type=Path, help="status JSON to write")
    p.add_argument(
        "--each-model",
        type=Path,
        help="folder of predict-split --each-model (fold<k>/ per model): also score each "
        "model's own predictions",
    )
    p.add_argument(
        "--each-model-metrics", type=Path, help="their metrics CSV (the `fold` column is k)"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="metrics CSV to write")
    p.set_defaults(handler=_cmd_metrics_split)


def _cmd_metrics_split(args: argparse.Namespace) -> int:
    from dmr.evaluation.evaluate_split import shared_structures
    from dmr.io import write_csv, write_json

    if (args.each_model is None) != (args.each_model_metrics is None):
        raise DmrError("--each-model and --each-model-metrics go together")
    structures = None
    if args.structures:
        structures = tuple(s.strip() for s in args.structures.split(",") if s.strip())
        unknown = [s for s in structures if s not in ("rv", "myo", "lv")]
        if unknown or not structures:
            raise DmrError(f"--structures {args.structures}: expected some of rv, myo, lv")
    elif args.train_format:
        structures = shared_structures(args.train_format, args.format)
        if not structures:
            raise DmrError(
                f"formats {args.train_format} and {args.format} annotate no common structure"
            )
    fold_folders = _fold_folders(args.each_model) if args.each_model is not None else []
    result = _evaluate(args, args.predictions, structures, roi_margin_mm=args.roi_margin_mm)
    each_model = _each_model_metrics(args, fold_folders, structures) if fold_folders else None
    write_csv(args.output, result.metrics)
    write_csv(args.slices, result.slices)
    write_csv(args.clinical, result.clinical)
    write_json(args.status, result.status)
    if each_model is not None:
        write_csv(args.each_model_metrics, each_model)
    if not result.status["references"]:
        print(f"{args.path} ({args.split}): {result.status['reason']}; nothing was scored")
    return 0


def _evaluate(
    args: argparse.Namespace,
    predictions: Path,
    structures: tuple[str, ...] | None,
    roi_margin_mm: float | None = None,
):
    """``evaluate_split`` of one prediction folder with the command's split and scoring options
    (the ensemble's folder, or one fold model's)."""
    from dmr.evaluation.evaluate_split import evaluate_split

    return evaluate_split(
        args.format,
        args.path,
        split=args.split,
        predictions=predictions,
        dataset=args.dataset,
        model=args.model,
        frames=args.frames,
        references=args.references,
        structures=structures,
        roi_margin_mm=roi_margin_mm,
        density=args.density,
        options=args.reader_options,
    )


def _fold_folders(each_model: Path) -> list[tuple[int, Path]]:
    """The ``fold<k>/`` folders of ``predict-split --each-model``, checked before any scoring."""
    if not each_model.is_dir():
        raise DmrError(f"{each_model}: no such folder of per-model predictions")
    folders = []
    for folder in sorted(
        p for p in each_model.iterdir() if p.is_dir() and p.name.startswith("fold")
    ):
        suffix = folder.name.removeprefix("fold")
        if not suffix.isdigit():
            raise DmrError(f"{folder}: expected a folder named fold<k>")
        folders.append((int(suffix), folder))
    if not folders:
        raise DmrError(f"{each_model}: no fold<k>/ folder of per-model predictions")
    return folders


def _each_model_metrics(
    args: argparse.Namespace,
    folders: list[tuple[int, Path]],
    structures: tuple[str, ...] | None,
):
    """The metrics of each fold model's own predictions, ``fold`` set to k."""
    import pandas as pd

    frames = [
        _evaluate(args, folder, structures).metrics.assign(fold=fold) for fold, folder in folders
    ]
    return pd.concat(frames, ignore_index=True)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_predict_split(sub)
    _add_metrics_split(sub)
