"""``dmr report``: the run's one-page HTML report; ``dmr write-config``: its resolved config."""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page: provenance, paper vs reproduced, tables, figures, data",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--config", required=True, type=Path, help="resolved config JSON (dmr write-config)"
    )
    p.add_argument(
        "--config-files",
        nargs="*",
        default=[],
        help="the config file(s) the run was started with, named in the report's header",
    )
    p.add_argument(
        "--summary",
        required=True,
        type=Path,
        help="paper_vs_reproduced.json (dmr paper-vs-reproduced)",
    )
    p.add_argument(
        "--tables", nargs="*", default=[], type=Path, help="results/tables/<name>.html fragments"
    )
    p.add_argument(
        "--figures",
        nargs="*",
        default=[],
        type=Path,
        help="results/figures/<name>.png (paper figures and dataset overviews)",
    )
    p.add_argument(
        "--data-checks",
        nargs="*",
        default=[],
        type=Path,
        help="results/<dataset>/data_check.json (dmr check-data)",
    )
    p.add_argument(
        "--histories",
        nargs="*",
        default=[],
        type=Path,
        help="training history.csv files (devices and precisions of the run)",
    )
    p.add_argument(
        "--captions",
        required=True,
        type=Path,
        help="folder of the snakemake --report captions (workflow/report)",
    )
    p.add_argument(
        "--workflow-dir",
        required=True,
        type=Path,
        help="the workflow's checkout (its git commit is reported)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from dmr.report import build_context, write_report

    context = build_context(
        config_path=args.config,
        config_files=args.config_files,
        tables=args.tables,
        figures=args.figures,
        summary=args.summary,
        data_checks=args.data_checks,
        histories=args.histories,
        captions=args.captions,
        workflow_dir=args.workflow_dir,
    )
    write_report(context, args.output)
    return 0


def _add_write_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "write-config", help="write the resolved config (JSON from Snakemake) for the report"
    )
    p.add_argument("--config-json", required=True, help="the resolved config as JSON text")
    p.add_argument("-o", "--output", required=True, type=Path, help="the JSON file to write")
    p.set_defaults(handler=_cmd_write_config)


def _cmd_write_config(args: argparse.Namespace) -> int:
    from dmr.report import write_config

    write_config(args.config_json, args.output)
    return 0


def _add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="project a real grid's hours, memory and disk from a rehearsal's measurements",
        description="Read a finished run's histories, Snakemake benchmark records and folders, "
        "and project the time, memory and disk of the target config's grid on this machine.",
    )
    p.add_argument("--config", required=True, type=Path, help="the run's config (dmr write-config)")
    p.add_argument("--target", required=True, type=Path, help="the grid to plan (a config YAML)")
    p.add_argument("--results", required=True, type=Path, help="the run's results folder")
    p.add_argument("--resources", required=True, type=Path, help="the run's resources folder")
    p.add_argument("-o", "--output", required=True, type=Path, help="plan.md to write")
    p.add_argument("--json", required=True, type=Path, help="plan.json to write")
    p.set_defaults(handler=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    import yaml

    from dmr.errors import InputError
    from dmr.report.plan_write import write_plan

    try:
        config = json.loads(args.config.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{args.config}: not a readable config JSON ({exc})") from exc
    try:
        target = yaml.safe_load(args.target.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{args.target}: not a readable config YAML ({exc})") from exc
    try:
        plan = write_plan(
            args.results,
            args.resources,
            config,
            target,
            str(args.target.name),
            args.output,
            args.json,
        )
    except (ValueError, KeyError) as exc:
        raise InputError(f"{args.results}: cannot plan {args.target} from this run: {exc}") from exc
    hours = plan["hours"]["total"]
    print(f"{args.target.name}: {hours:.1f} hours on this machine; wrote {args.output}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_report(sub)
    _add_write_config(sub)
    _add_plan(sub)
