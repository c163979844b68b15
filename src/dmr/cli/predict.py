"""``dmr predict`` (users' own images) and ``dmr predict-cv`` (cross-validation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import (
    add_format,
    add_inference_amp,
    add_reuse_freed_memory,
    apply_reuse_freed_memory,
)


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
    p.add_argument(
        "-o", "--output", required=True, type=Path, help="3-D label map to write (labels.nii.gz)"
    )
    p.add_argument("--device", default="auto")
    add_inference_amp(p)
    add_reuse_freed_memory(p)
    p.set_defaults(handler=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from dmr.inference.predict import check_label_map_path, predict_file

    check_label_map_path(args.output)  # before anything else happens or is logged
    apply_reuse_freed_memory(args)
    predict_file(args.model, args.input, args.output, device=args.device, amp=args.amp)
    return 0


def _add_predict_cv(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict-cv", help="predict every test case of every fold with that fold's model"
    )
    add_format(p)
    p.add_argument("path", type=Path, help="raw dataset root")
    p.add_argument("--folds", required=True, type=Path, help="folds.csv")
    p.add_argument("--models", required=True, type=Path, help="model folder holding fold*/model.pt")
    p.add_argument("--phases", nargs="+", default=["ED", "ES"])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timing", type=Path, help="CSV of inference ms per volume to write")
    p.add_argument("-o", "--output", required=True, type=Path, help="prediction folder")
    add_inference_amp(p)
    add_reuse_freed_memory(p)
    p.set_defaults(handler=_cmd_predict_cv)


def _cmd_predict_cv(args: argparse.Namespace) -> int:
    from dmr.inference.cross_validation import predict_cross_validation

    apply_reuse_freed_memory(args)
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
        amp=args.amp,
        options=args.reader_options,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_predict(sub)
    _add_predict_cv(sub)
