"""``dmr paper-vs-reproduced``: every published number of the paper beside this run's."""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_paper_vs_reproduced(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "paper-vs-reproduced",
        help="every published number beside this run's, with a verdict (CSV, Markdown, JSON)",
    )
    p.add_argument(
        "--cells",
        nargs="*",
        default=[],
        type=Path,
        help="results/stats/<table>.csv files; missing ones count as not run",
    )
    p.add_argument("--fig6", type=Path, help="Fig. 6 data CSV (learned vs fixed weights)")
    p.add_argument("--fig7", type=Path, help="Fig. 7 data CSV (thresholds T)")
    p.add_argument(
        "--phantom-datasets",
        nargs="*",
        default=[],
        metavar="NAME",
        help="config datasets whose data are phantoms (their numbers are not comparable)",
    )
    p.add_argument("--acdc", default="acdc", help="config dataset playing the paper's ACDC")
    p.add_argument("--lvsc", default="lvsc", help="config dataset playing the paper's LVSC")
    p.add_argument(
        "-o", "--out-prefix", required=True, type=Path, help="writes PREFIX.{csv,md,json}"
    )
    p.set_defaults(handler=_cmd_paper_vs_reproduced)


def _cmd_paper_vs_reproduced(args: argparse.Namespace) -> int:
    from dmr.published.compare import dataset_roles
    from dmr.published.write import write_paper_vs_reproduced

    write_paper_vs_reproduced(
        args.cells,
        args.out_prefix,
        fig6=args.fig6,
        fig7=args.fig7,
        phantom_datasets=args.phantom_datasets,
        roles=dataset_roles(args.acdc, args.lvsc),
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_paper_vs_reproduced(sub)
