"""``dmr table1`` ... ``dmr table6``: the paper's tables, each with its cells CSV."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dmr.errors import DmrError, InputError


def _add_common(p: argparse.ArgumentParser) -> None:
    """Outputs and the bootstrap settings every table command shares."""
    p.add_argument("--out-prefix", required=True, type=Path, help="writes PREFIX.{csv,md,tex}")
    p.add_argument(
        "--cells", type=Path, help="also write the long cells CSV (results/stats/<table>.csv)"
    )
    p.add_argument("--n-resamples", type=int, default=9999, help="bootstrap resamples per interval")
    p.add_argument("--seed", type=int, default=0, help="seed of every bootstrap interval")


def _add_fold_metrics(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fold-metrics",
        nargs="+",
        type=Path,
        help="each fold network's own metrics on the same cases (metrics-split "
        "--each-model-metrics): whether a DMR difference replicates in every training",
    )


def _bootstrap(args: argparse.Namespace):
    from dmr.tables import Bootstrap

    try:
        return Bootstrap(n_resamples=args.n_resamples, seed=args.seed)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _write(table, args: argparse.Namespace) -> int:
    from dmr.tables import write_cells, write_table

    write_table(table, args.out_prefix)
    if args.cells is not None:
        write_cells(table, args.cells)
    return 0


def _read_csvs(paths: list[Path]):
    """The CSVs concatenated; an unreadable one is named in the error."""
    import pandas as pd

    frames = []
    for path in paths:
        try:
            frames.append(pd.read_csv(path, dtype={"case": str}))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable CSV ({exc})") from exc
    return pd.concat(frames, ignore_index=True)


def _read_status(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        status = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(status, dict):
        raise InputError(f'{path}: expected a JSON object like {{"references": true}}')
    return status


def _published():
    """The paper's published values (Tables III and V compare against them)."""
    try:
        from dmr.published import load_published
    except ImportError as exc:
        raise DmrError(
            "Tables III and V need the paper's published values (dmr.published), which this "
            f"installation lacks ({exc})"
        ) from exc
    return load_published()


# --------------------------------------------------------------------------- commands
def _cmd_table1(args: argparse.Namespace) -> int:
    from dmr.tables import table1

    return _write(table1(args.histories, args.timings, args.width, _bootstrap(args)), args)


def _cmd_table2a(args: argparse.Namespace) -> int:
    from dmr.tables import table2a

    return _write(table2a(_read_csvs(args.metrics), _bootstrap(args)), args)


def _cmd_table2b(args: argparse.Namespace) -> int:
    from dmr.tables import table2b

    return _write(table2b(_read_csvs(args.clinical), _bootstrap(args)), args)


def _cmd_table3(args: argparse.Namespace) -> int:
    from dmr.tables import table3

    table = table3(
        _read_csvs([args.metrics]),
        _read_csvs([args.clinical]),
        _published(),
        _read_status(args.status),
        _bootstrap(args),
    )
    return _write(table, args)


def _cmd_table4(args: argparse.Namespace) -> int:
    from dmr.tables import table4

    metrics, clinical = _read_csvs(args.metrics), _read_csvs(args.clinical)
    return _write(table4(metrics, clinical, _bootstrap(args)), args)


def _cmd_table5(args: argparse.Namespace) -> int:
    from dmr.tables import table5
    from dmr.tables.confusion import DEFAULT_ROI_NOTE

    table = table5(
        _read_csvs([args.slices]),
        _published(),
        _read_status(args.status),
        args.roi_note or DEFAULT_ROI_NOTE,
        _bootstrap(args),
    )
    return _write(table, args)


def _cmd_table6(args: argparse.Namespace) -> int:
    from dmr.tables import table6

    fold_metrics = _read_csvs(args.fold_metrics) if args.fold_metrics else None
    table = table6(_read_csvs(args.metrics), args.part, _bootstrap(args), fold_metrics)
    return _write(table, args)


def _cmd_results_table(args: argparse.Namespace) -> int:
    from dmr.tables.generic import results_table

    table = results_table(
        _read_csvs(args.metrics),
        args.name or args.out_prefix.name,
        kind=args.kind,
        bootstrap=_bootstrap(args),
        group_label=args.group_label,
        fold_metrics=_read_csvs(args.fold_metrics) if args.fold_metrics else None,
    )
    return _write(table, args)


def _cmd_text_cells(args: argparse.Namespace) -> int:
    import pandas as pd

    from dmr.io import write_csv
    from dmr.tables.text import text_cells

    def optional(paths: list[Path] | None) -> pd.DataFrame:
        return _read_csvs(paths) if paths else pd.DataFrame()

    cells = text_cells(
        optional(args.metrics), optional(args.cross), args.histories or [], _bootstrap(args)
    )
    write_csv(args.cells, cells)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    csvs = {"nargs": "+", "required": True, "type": Path}

    p = sub.add_parser(
        "text-cells",
        help="cells of the numbers the paper quotes in its text (abstract Dice, learned sigmas)",
    )
    p.add_argument("--metrics", nargs="+", type=Path, help="DMR-U-Net's in-domain metric CSVs")
    p.add_argument(
        "--cross",
        nargs="+",
        type=Path,
        help="U-Net / DMR-U-Net metrics trained on LVSC, tested on ACDC",
    )
    p.add_argument("--histories", nargs="+", type=Path, help="DMR-U-Net's history.csv files")
    p.add_argument("--cells", required=True, type=Path, help="cells CSV to write")
    p.add_argument("--n-resamples", type=int, default=9999, help="bootstrap resamples per interval")
    p.add_argument("--seed", type=int, default=0, help="seed of every bootstrap interval")
    p.set_defaults(handler=_cmd_text_cells)

    p = sub.add_parser("table1", help="Table I: parameters, train min/epoch, test ms/volume")
    p.add_argument("--histories", **csvs, help="history.csv files")
    p.add_argument("--timings", **csvs, help="predict timing CSVs")
    p.add_argument("--width", type=int, default=32, help="width the parameters are counted at")
    _add_common(p)
    p.set_defaults(handler=_cmd_table1)

    p = sub.add_parser("table2a", help="Table II(a): mean segmentation metrics with Wilcoxon marks")
    p.add_argument("--metrics", **csvs, help="metrics CSVs of one dataset (ACDC role)")
    _add_common(p)
    p.set_defaults(handler=_cmd_table2a)

    p = sub.add_parser("table2b", help="Table II(b): EF and myocardial mass agreement")
    p.add_argument("--clinical", **csvs, help="clinical CSVs of one dataset (ACDC role)")
    _add_common(p)
    p.set_defaults(handler=_cmd_table2b)

    p = sub.add_parser("table3", help="Table III: DMR-UNet ensemble on the ACDC test set")
    p.add_argument("--metrics", required=True, type=Path, help="held-out metrics CSV")
    p.add_argument("--clinical", required=True, type=Path, help="held-out clinical CSV")
    p.add_argument("--status", type=Path, help="heldout/status.json (references present?)")
    _add_common(p)
    p.set_defaults(handler=_cmd_table3)

    p = sub.add_parser("table4", help="Table IV: LVSC myocardium with the mass agreement")
    p.add_argument("--metrics", **csvs, help="metrics CSVs of one dataset (LVSC role)")
    p.add_argument("--clinical", **csvs, help="clinical CSVs of the same dataset")
    _add_common(p)
    p.set_defaults(handler=_cmd_table4)

    p = sub.add_parser("table5", help="Table V: per-slice measures on the LVSC validation set")
    p.add_argument("--slices", required=True, type=Path, help="held-out per-slice CSV (ROI counts)")
    p.add_argument("--status", type=Path, help="heldout/status.json (references present?)")
    p.add_argument("--roi-note", help="how the ROI counts were made, for the notes")
    _add_common(p)
    p.set_defaults(handler=_cmd_table5)

    p = sub.add_parser(
        "results-table",
        help="the results of a dataset, a cross-dataset pair or a leave-one-group-out run the "
        "paper does not have, in the shape of Tables II(a)/VI",
    )
    p.add_argument("--metrics", **csvs, help="metrics CSVs of one dataset or one pair")
    p.add_argument(
        "--kind",
        choices=("dataset", "cross", "groups"),
        default="dataset",
        help="dataset: a block per structure; cross: the same with Table VI's levels; "
        "groups: a block per held-out group (leave-one-group-out) (%(default)s)",
    )
    p.add_argument("--name", help="the table's name in its caption and cells (default: prefix)")
    p.add_argument("--group-label", default="group", help="what a group is, e.g. vendor")
    _add_fold_metrics(p)
    _add_common(p)
    p.set_defaults(handler=_cmd_results_table)

    p = sub.add_parser("table6", help="Table VI(a)/(b): cross-dataset myocardium, DMR vs base")
    p.add_argument("--part", required=True, choices=("a", "b"), help="a: ACDC->LVSC, b: LVSC->ACDC")
    p.add_argument("--metrics", **csvs, help="cross-dataset metrics CSVs of one direction")
    _add_fold_metrics(p)
    _add_common(p)
    p.set_defaults(handler=_cmd_table6)
