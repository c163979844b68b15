"""The ``dmr`` command: one subcommand per workflow step, each a thin shell over one library call.

Subcommands live in one module per stage (``dmr.cli.data``, ``.download``, ``.preprocess``,
``.train``, ``.predict``, ``.evaluate``, ``.splits``, ``.tables``, ``.compare``, ``.figures``,
``.report``), each with a ``register(sub)`` that adds its parsers.
Heavy libraries (torch, SimpleITK, pandas) are imported inside the handlers so that ``dmr --help``
and light steps start fast; every Snakemake rule pays this start-up cost once per job.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from dmr.cli import (
    compare,
    data,
    download,
    evaluate,
    figures,
    predict,
    preprocess,
    report,
    splits,
    tables,
    train,
)
from dmr.errors import DmrError

log = logging.getLogger("dmr")

#: Stage modules in the order their subcommands are listed by ``dmr --help``.
_STAGES: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    data.register,
    download.register,
    preprocess.register,
    train.register,
    predict.register,
    evaluate.register,
    splits.register,
    tables.register,
    compare.register,
    figures.register,
    report.register,
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
    for register in _STAGES:
        register(sub)
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
