"""``dmr figure NAME``: the paper's figures (PNG + PDF, and the CSV each data figure plots).

One sub-subcommand per figure; every input file is its own option so the Snakemake rules pass
them explicitly, and every figure writes ``PREFIX.png`` and ``PREFIX.pdf`` (+ ``PREFIX.csv``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from dmr.cli.common import FORMATS
from dmr.errors import DmrError


def _pairs(values: list[str] | None, option: str, convert: Callable[[str], object] = str) -> dict:
    """``["a=1", "b=2"]`` -> ``{"a": convert("1"), ...}``; DmrError naming the bad item."""
    pairs: dict[str, object] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise DmrError(f"{option}: expected NAME=VALUE, got {item!r}")
        if key in pairs:
            raise DmrError(f"{option}: {key!r} given twice")
        try:
            pairs[key] = convert(value)
        except ValueError as exc:
            raise DmrError(f"{option}: bad value in {item!r} ({exc})") from exc
    return pairs


def _prefix(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out-prefix", required=True, type=Path, help="writes PREFIX.png, PREFIX.pdf (+ .csv)"
    )


def _bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--n-resamples", type=int, default=9999, help="bootstrap resamples (%(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (%(default)s)")


def _labels(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset-label",
        action="append",
        metavar="NAME=LABEL",
        help="display name of a config dataset (default: the name in capitals)",
    )


def _absent(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--absent",
        nargs="*",
        default=[],
        metavar="MODEL",
        help="models the figure would show but the config does not run (named in a note)",
    )


def _case_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics",
        required=True,
        type=Path,
        help="per-case metric CSV of the model that picks the case (its median-Dice ED volume)",
    )


# --------------------------------------------------------------------------- handlers
def _fig1(args: argparse.Namespace) -> int:
    from dmr.figures.cases import write_case_views

    write_case_views(args.format, args.raw, args.metrics, args.predictions, args.out_prefix)
    return 0


def _fig4(structures: tuple[str, ...], title: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from dmr.figures.dice import write_regional

        write_regional(
            args.slices,
            args.out_prefix,
            structures=structures,
            title=title,
            n_resamples=args.n_resamples,
            seed=args.seed,
        )
        return 0

    return run


def _fig5(args: argparse.Namespace) -> int:
    from dmr.figures.dice import write_groups

    write_groups(args.metrics, args.out_prefix, n_resamples=args.n_resamples, seed=args.seed)
    return 0


def _regions(args: argparse.Namespace) -> int:
    from dmr.figures.datasets import write_dataset_regions

    write_dataset_regions(
        args.slices, args.out_prefix, title=args.title, n_resamples=args.n_resamples, seed=args.seed
    )
    return 0


def _groups(args: argparse.Namespace) -> int:
    from dmr.figures.datasets import write_dataset_groups

    write_dataset_groups(
        args.metrics,
        args.out_prefix,
        group_label=args.group_label,
        title=args.title,
        n_resamples=args.n_resamples,
        seed=args.seed,
    )
    return 0


def _fig6(args: argparse.Namespace) -> int:
    from dmr.figures.dice import write_weighting

    write_weighting(
        args.metrics,
        args.out_prefix,
        weighting=_pairs(args.model, "--model"),
        n_resamples=args.n_resamples,
        seed=args.seed,
        dataset_labels=_pairs(args.dataset_label, "--dataset-label"),
        absent=args.absent,
    )
    return 0


def _fig7(args: argparse.Namespace) -> int:
    from dmr.figures.dice import write_threshold

    write_threshold(
        args.metrics,
        args.out_prefix,
        thresholds=_pairs(args.model, "--model", float),
        n_resamples=args.n_resamples,
        seed=args.seed,
        dataset_labels=_pairs(args.dataset_label, "--dataset-label"),
        absent=args.absent,
    )
    return 0


def _figS1(args: argparse.Namespace) -> int:
    from dmr.figures.cases import write_all_models

    predictions = {k: Path(v) for k, v in _pairs(args.prediction, "--prediction").items()}
    write_all_models(args.format, args.raw, args.metrics, predictions, args.out_prefix)
    return 0


def _figS2(args: argparse.Namespace) -> int:
    from dmr.figures.network import write_distance_maps

    write_distance_maps(args.checkpoints, args.metrics, args.preprocessed, args.out_prefix)
    return 0


def _figS3(args: argparse.Namespace) -> int:
    from dmr.figures.network import write_feature_maps

    write_feature_maps(
        args.base_models, args.dmr_models, args.metrics, args.preprocessed, args.out_prefix
    )
    return 0


def _figS4(args: argparse.Namespace) -> int:
    from dmr.figures.training import write_curves

    write_curves(
        args.histories,
        args.out_prefix,
        n_resamples=args.n_resamples,
        seed=args.seed,
        dataset_labels=_pairs(args.dataset_label, "--dataset-label"),
    )
    return 0


def _figS5(args: argparse.Namespace) -> int:
    from dmr.figures.weights import write_weights

    write_weights(args.models, args.out_prefix, _pairs(args.dataset_label, "--dataset-label"))
    return 0


# --------------------------------------------------------------------------- parsers
def _add(
    figures: argparse._SubParsersAction, name: str, help: str, handler
) -> argparse.ArgumentParser:
    p = figures.add_parser(name, help=help.replace("%", "%%"), description=help)
    p.set_defaults(handler=handler)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dmr figure`` and its one sub-subcommand per figure."""
    parent = sub.add_parser(
        "figure",
        help="draw one of the paper's figures (fig1, fig4a, ..., figS5) or a dataset's "
        "(regions, groups)",
        description="Draw one of the paper's figures: PNG + PDF, and the CSV it plots.",
    )
    figures = parent.add_subparsers(dest="figure", required=True, metavar="NAME")

    p = _add(
        figures, "fig1", "one test case: reference vs model, 2-D views and 3-D surfaces", _fig1
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--raw", required=True, type=Path, help="raw dataset root")
    _case_selection(p)
    p.add_argument(
        "--predictions", required=True, type=Path, help="the model's predictions/<model>/volumes"
    )
    _prefix(p)

    for name, structures, title in (
        ("fig4a", ("rv", "myo", "lv"), "ACDC: Dice per slice region"),
        ("fig4b", ("myo",), "LVSC: myocardium Dice per slice region"),
    ):
        p = _add(
            figures,
            name,
            f"mean Dice and 95 % CI on apical, mid, basal slices ({', '.join(structures)})",
            _fig4(structures, title),
        )
        p.add_argument(
            "--slices", nargs="+", required=True, type=Path, help="per-slice metric CSVs"
        )
        _bootstrap(p)
        _prefix(p)

    p = _add(figures, "fig5", "ACDC: mean Dice and 95 % CI per pathology group and model", _fig5)
    p.add_argument("--metrics", nargs="+", required=True, type=Path, help="per-case metric CSVs")
    _bootstrap(p)
    _prefix(p)

    p = _add(
        figures,
        "regions",
        "any dataset: mean Dice and 95 % CI on apical, mid, basal slices per model "
        "(the structures its slice CSVs hold)",
        _regions,
    )
    p.add_argument("--slices", nargs="+", required=True, type=Path, help="per-slice metric CSVs")
    p.add_argument("--title", help="figure title (default: '<dataset>: Dice per slice region')")
    _bootstrap(p)
    _prefix(p)

    p = _add(
        figures,
        "groups",
        "any dataset: mean Dice and 95 % CI per group (its metric CSVs' group column) and model",
        _groups,
    )
    p.add_argument("--metrics", nargs="+", required=True, type=Path, help="per-case metric CSVs")
    p.add_argument(
        "--group-label", default="group", help="what the groups are, the x label (%(default)s)"
    )
    p.add_argument("--title", help="figure title (default: '<dataset>: Dice per <group label>')")
    _bootstrap(p)
    _prefix(p)

    for name, handler, meta, what in (
        ("fig6", _fig6, "MODEL=learned|fixed", "learned vs fixed task weighting"),
        ("fig7", _fig7, "MODEL=T", "distance-map thresholds T"),
    ):
        p = _add(figures, name, f"mean Dice and 95 % CI for {what}, per dataset", handler)
        p.add_argument(
            "--metrics", nargs="+", required=True, type=Path, help="per-case metric CSVs"
        )
        p.add_argument(
            "--model", action="append", required=True, metavar=meta, help="a model and its level"
        )
        _labels(p)
        _absent(p)
        _bootstrap(p)
        _prefix(p)

    p = _add(figures, "figS1", "every model's segmentation of one test case and its errors", _figS1)
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--raw", required=True, type=Path, help="raw dataset root")
    _case_selection(p)
    p.add_argument(
        "--prediction",
        action="append",
        required=True,
        metavar="MODEL=DIR",
        help="a model and its predictions/<model>/volumes folder",
    )
    _prefix(p)

    p = _add(
        figures, "figS2", "distance maps of a DMR network: thresholded and their error", _figS2
    )
    p.add_argument(
        "--checkpoints", nargs="+", required=True, type=Path, help="checkpoint.pt of each fold"
    )
    _case_selection(p)
    p.add_argument("--preprocessed", required=True, type=Path, help="preprocessed slice folder")
    _prefix(p)

    p = _add(figures, "figS3", "feature maps of a base and a DMR network for one image", _figS3)
    p.add_argument("--base-models", nargs="+", required=True, type=Path, help="model.pt per fold")
    p.add_argument("--dmr-models", nargs="+", required=True, type=Path, help="model.pt per fold")
    _case_selection(p)
    p.add_argument("--preprocessed", required=True, type=Path, help="preprocessed slice folder")
    _prefix(p)

    p = _add(figures, "figS4", "learning curves and task weights across folds", _figS4)
    p.add_argument("--histories", nargs="+", required=True, type=Path, help="history.csv files")
    _labels(p)
    _bootstrap(p)
    _prefix(p)

    p = _add(figures, "figS5", "convolution weight histograms, base vs DMR", _figS5)
    p.add_argument(
        "--models", nargs="+", required=True, type=Path, help="model.pt of every fold and model"
    )
    _labels(p)
    _prefix(p)
