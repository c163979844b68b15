"""``dmr phantoms``, ``dmr figure-phantoms`` and ``dmr check-data``: the data stage."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dmr.cli.common import FORMATS, add_format, parse_json_object

log = logging.getLogger(__name__)


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
    domain = parse_json_object(args.domain_json, "--domain-json")
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
    add_format(p)
    p.add_argument("path", type=Path, help="dataset root")
    p.add_argument("-o", "--output", required=True, type=Path, help="PNG to write")
    p.set_defaults(handler=_cmd_figure_phantoms)


def _cmd_figure_phantoms(args: argparse.Namespace) -> int:
    from dmr.figures import plot_dataset_overview

    plot_dataset_overview(args.format, args.path, args.output, options=args.reader_options)
    return 0


def _add_check_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-data",
        help="verify a raw dataset folder; exit 0 when it is usable",
        description="Report every problem found (file and problem), never modifying the data.",
    )
    add_format(p)
    p.add_argument("path", type=Path, help="dataset root")
    p.add_argument("-o", "--output", type=Path, help="JSON report to write")
    p.set_defaults(handler=_cmd_check_data)


def _cmd_check_data(args: argparse.Namespace) -> int:
    from dmr.datasets.checks import check_dataset

    report = check_dataset(args.format, args.path, args.reader_options)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_phantoms(sub)
    _add_figure_phantoms(sub)
    _add_check_data(sub)
