"""``dmr table1``, ``dmr table2a``: the paper's tables."""

from __future__ import annotations

import argparse
from pathlib import Path


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


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_table1(sub)
    _add_table2a(sub)
