"""Tables II(a), IV, VI(a) and VI(b): the six networks side by side, DMR tested against its base.

One builder, :func:`comparison_table`, parametrised by a :class:`ComparisonSpec` (dataset role,
structures, per-case unit, significance levels, caption) and optional extra rows (Table IV's
myocardial mass agreement). All four tables share the CSV shape of Table II(a): a row per
metric, columns ``<phase> <label>`` and, for DMR columns, ``<phase> <label> p``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from dmr.errors import InputError
from dmr.evaluation.stats import (
    CROSS_LEVELS,
    PAPER_LEVELS,
    significance_marker,
    wilcoxon_signed_rank,
)
from dmr.labels import FORMAT_STRUCTURES, PHASES, STRUCTURE_NAMES
from dmr.tables.cells import Bootstrap, cell, cells_frame
from dmr.tables.common import (
    PHASE_LABELS,
    PaperModel,
    Rows,
    baseline_of,
    caption_abbreviations,
    fmt,
    is_best,
    model_names,
    one_dataset,
    require_columns,
    split_models,
    two_level,
)
from dmr.tables.render import Table
from dmr.tables.replication import fold_case_means, replication


@dataclass(frozen=True)
class Metric:
    """A segmentation metric row: CSV column, row label, cells quantity, printed scale."""

    column: str
    label: str
    quantity: str
    scale: float
    decimals: int
    higher_is_better: bool


METRICS: tuple[Metric, ...] = (
    Metric("dice", "Dice (%)", "dice_pct", 100.0, 1, True),
    Metric("jaccard", "Jaccard (%)", "jaccard_pct", 100.0, 1, True),
    Metric("msd_mm", "MSD (mm)", "msd_mm", 1.0, 2, False),
    Metric("hd_mm", "HD (mm)", "hd_mm", 1.0, 2, False),
)

_MARKERS = (
    "* and ** mark p < {weak:g} and p < {strong:g} (Wilcoxon signed-rank, DMR vs baseline of the "
    "same architecture). Best model per metric and phase in bold.{abbreviations}"
)
_MYO = STRUCTURE_NAMES["myo"]


@dataclass(frozen=True)
class ComparisonSpec:
    """What distinguishes Tables II(a), IV, VI(a) and VI(b).

    ``structures`` are averaged per case (the per-case unit of the test and the mean);
    ``structure`` is the cells' structure (``mean`` for an average over several). ``caption``
    may use ``{dataset}``, ``{train}`` and ``{test}`` (upper-case dataset names), ``{weak}``,
    ``{strong}`` (the levels) and ``{abbreviations}`` (those of the models shown, if any).
    """

    table: str
    name: str
    structures: tuple[str, ...]
    structure: str
    levels: tuple[float, float]
    caption: str


TABLE2A = ComparisonSpec(
    table="IIa",
    name="Table II(a)",
    structures=("rv", "myo", "lv"),
    structure="mean",
    levels=PAPER_LEVELS,
    caption="Table II(a): average segmentation results on {dataset} (per case: mean over "
    + ", ".join(STRUCTURE_NAMES[s] for s in FORMAT_STRUCTURES["acdc"])
    + "; then mean over cases). "
    + _MARKERS,
)
TABLE4 = ComparisonSpec(
    table="IV",
    name="Table IV",
    structures=("myo",),
    structure="myo",
    levels=PAPER_LEVELS,
    caption=f"Table IV: segmentation results for the {_MYO} on {{dataset}} (mean over cases), "
    "with the agreement of the myocardial mass. " + _MARKERS,
)
TABLE6A = ComparisonSpec(
    table="VIa",
    name="Table VI(a)",
    structures=("myo",),
    structure="myo",
    levels=CROSS_LEVELS,
    caption=f"Table VI(a): cross-dataset segmentation of the {_MYO}, trained on {{train}} "
    "and tested on {test} (fold models combined by majority vote; mean over volumes). " + _MARKERS,
)
TABLE6B = ComparisonSpec(
    table="VIb",
    name="Table VI(b)",
    structures=("myo",),
    structure="myo",
    levels=CROSS_LEVELS,
    caption=f"Table VI(b): cross-dataset segmentation of the {_MYO}, trained on {{train}} "
    "and tested on {test} (fold models combined by majority vote; mean over volumes). " + _MARKERS,
)

_REQUIRED = ("dataset", "arch", "variant", "case", "phase", "structure")

#: Extra rows of a comparison table, built from the models and phases the table shows.
ExtraRows = Callable[[list[PaperModel], list[str]], Rows]


def _check_input(metrics: pd.DataFrame, spec: ComparisonSpec) -> pd.DataFrame:
    require_columns(metrics, [*_REQUIRED, *(m.column for m in METRICS)], "metrics table")
    one_dataset(metrics, spec.name)  # several datasets also look like duplicates: say which
    key = ["arch", "variant", "case", "phase", "structure"]
    duplicated = metrics.duplicated(key, keep=False)
    if duplicated.any():
        example = metrics.loc[duplicated, key]
        raise InputError(
            f"{int(duplicated.sum())} duplicated model/case/phase/structure rows (a metrics CSV "
            f"passed twice?), e.g. {example.iloc[0].tolist()}"
        )
    return metrics


def _dataset_words(dataset: str) -> dict[str, str]:
    train, _, test = dataset.partition("_to_")
    return {"dataset": dataset.upper(), "train": train.upper(), "test": (test or train).upper()}


def comparison_table(
    metrics: pd.DataFrame,
    spec: ComparisonSpec,
    bootstrap: Bootstrap | None = None,
    extra_rows: ExtraRows | None = None,
    fold_metrics: pd.DataFrame | None = None,
) -> Table:
    """Mean over cases of the per-case mean over ``spec.structures``, ED and ES, per model.

    Columns follow the paper (SN, DMR-SN, USN, DMR-USN, UNet, DMR-UNet; only models present;
    other variants such as ``dmr_fixed`` are ignored and listed in the notes). Each DMR column is
    tested against the baseline of the same architecture with a two-sided Wilcoxon signed-rank
    test of the per-case values, paired by case within a phase, marked at ``spec.levels``. The
    best model per metric and phase is bold. Distances undefined because exactly one mask is
    empty (NaN) are excluded from the per-case mean over structures and counted in the notes.

    Each DMR cell also records whether its difference replicates in every training
    (``replicated`` = ``j/K``, :mod:`dmr.tables.replication`): in-domain each fold's network on
    its own test cases; for an ensemble (cross-dataset), each fold network alone on every case, from
    ``fold_metrics`` (the same columns, ``fold`` the network's fold).
    """
    bootstrap = bootstrap or Bootstrap()
    metrics = _check_input(metrics, spec)
    fold_cases = fold_case_means(
        metrics, fold_metrics, spec.structures, [m.column for m in METRICS]
    )
    dataset = one_dataset(metrics, spec.name)
    names = model_names(metrics)
    models, ignored = split_models(names.unique(), spec.name)
    metrics = metrics.loc[names.isin([m.name for m in models]).to_numpy()]
    other_structures = sorted(set(metrics["structure"].astype(str)) - set(spec.structures))
    metrics = metrics[metrics["structure"].isin(spec.structures)]
    if metrics.empty:
        raise InputError(f"{spec.name}: no rows for structure(s) {list(spec.structures)}")
    phases = [p for p in PHASES if (metrics["phase"] == p).any()]
    columns = [m.column for m in METRICS]
    per_case = (
        metrics.groupby(["arch", "variant", "phase", "case"], sort=False)[columns]
        .mean()  # NaN structures (one mask empty) are skipped here and counted below
        .reset_index()
    )

    def cases_of(model: PaperModel, phase: str) -> pd.DataFrame:
        rows = per_case[
            (per_case["arch"] == model.arch)
            & (per_case["variant"] == model.variant)
            & (per_case["phase"] == phase)
        ]
        return rows.set_index("case")

    rows = Rows(
        csv={m.label: {"metric": m.label} for m in METRICS},
        display={m.label: {} for m in METRICS},
        bold={m.label: {} for m in METRICS},
    )
    test_notes: list[str] = []
    for phase in phases:
        for metric in METRICS:
            means: dict[str, float] = {}
            markers: dict[str, str] = {}
            for model in models:
                values = cases_of(model, phase)[metric.column]
                means[model.short] = float(values.mean()) * metric.scale
                rows.csv[metric.label][f"{phase} {model.short}"] = means[model.short]
                p_value = float("nan")
                replicated = ""
                if model.is_dmr:
                    base = cases_of(baseline_of(model), phase)
                    if not base.empty:
                        paired = pd.concat(
                            {"base": base[metric.column], "dmr": values}, axis=1, join="inner"
                        )
                        result = wilcoxon_signed_rank(paired["dmr"], paired["base"])
                        p_value = result.p_value
                        if result.n_dropped:
                            test_notes.append(
                                f"{model.short} vs baseline, {phase} {metric.label}: "
                                f"{result.n_dropped} case pair(s) without a defined value "
                                f"excluded (n = {result.n})"
                            )
                        base_mean = float(base[metric.column].mean()) * metric.scale
                        dmr_better = (
                            None
                            if means[model.short] == base_mean
                            else (means[model.short] > base_mean) == metric.higher_is_better
                        )
                        replicated = replication(
                            fold_cases,
                            (model.arch, model.variant),
                            (baseline_of(model).arch, baseline_of(model).variant),
                            phase,
                            metric.column,
                            metric.higher_is_better,
                            dmr_better,
                            spec.levels[0],
                        )
                    rows.csv[metric.label][f"{phase} {model.short} p"] = p_value
                    markers[model.short] = significance_marker(p_value, spec.levels)
                defined = values.dropna().to_numpy() * metric.scale
                rows.cells.append(
                    cell(
                        spec.table,
                        dataset,
                        metric.quantity,
                        model.name,
                        means[model.short],
                        bootstrap.mean(defined),
                        int(defined.size),
                        phase=phase,
                        structure=spec.structure,
                        p_value=p_value,
                        marker=markers.get(model.short, ""),
                        replicated=replicated,
                    )
                )
            best = is_best(means, metric.higher_is_better, metric.decimals)
            for model in models:
                key = (PHASE_LABELS[phase], model.short)
                text = fmt(means[model.short], metric.decimals)
                rows.display[metric.label][key] = text + markers.get(model.short, "")
                rows.bold[metric.label][key] = model.short in best

    notes = _notes(metrics, per_case, models, phases, ignored, spec)
    if other_structures:
        notes.append(f"Structures not part of {spec.name}, ignored: {', '.join(other_structures)}.")
    notes += [*test_notes, _test_note(spec)]
    if fold_cases is not None:
        notes.append(
            "Replication (cells CSV, column `replicated`): in how many of the fold networks, "
            "each tested alone on its cases, DMR differs from its baseline in the same "
            f"direction at p < {spec.levels[0]:g}."
        )
    if extra_rows is not None:
        rows.extend(extra_rows(models, phases))
    notes += rows.notes
    notes.append(_interval_note(bootstrap, paired=extra_rows is not None))
    return Table(
        frame=pd.DataFrame(list(rows.csv.values())),
        caption=spec.caption.format(
            **_dataset_words(dataset),
            weak=spec.levels[0],
            strong=spec.levels[1],
            abbreviations=caption_abbreviations(models),
        ),
        notes=notes,
        display=two_level(rows.display),
        bold=two_level(rows.bold),
        cells=cells_frame(rows.cells),
    )


def _notes(
    metrics: pd.DataFrame,
    per_case: pd.DataFrame,
    models: list[PaperModel],
    phases: list[str],
    ignored: list[str],
    spec: ComparisonSpec,
) -> list[str]:
    notes = []
    counts = []
    for model in models:
        of_model = per_case[
            (per_case["arch"] == model.arch) & (per_case["variant"] == model.variant)
        ]
        per_phase = "/".join(str(int((of_model["phase"] == p).sum())) for p in phases)
        counts.append(f"{model.short} {per_phase}")
    notes.append(f"Cases ({'/'.join(phases)}) per model: " + "; ".join(counts) + ".")
    for metric in METRICS:
        details = []
        for model in models:
            for phase in phases:
                of_model = (metrics["arch"] == model.arch) & (metrics["variant"] == model.variant)
                rows = metrics[of_model & (metrics["phase"] == phase)]
                n_nan = int(rows[metric.column].isna().sum())
                if n_nan == 0:
                    continue
                cases = per_case[
                    (per_case["arch"] == model.arch)
                    & (per_case["variant"] == model.variant)
                    & (per_case["phase"] == phase)
                ]
                n_cases = int(cases[metric.column].isna().sum())
                details.append(
                    f"{model.short} {phase}: {n_nan} structure value(s)"
                    + (f", {n_cases} case(s) with none defined" if n_cases else "")
                )
        if details:
            notes.append(
                f"{metric.label}: undefined where exactly one of reference and prediction is "
                "empty; excluded from the per-case mean over structures (and cases with no "
                "defined value from the mean over cases): " + "; ".join(details) + "."
            )
    if ignored:
        family = spec.name.partition("(")[0]  # "Table II" for Table II(a)
        notes.append(f"Not part of {family}, ignored: {', '.join(ignored)}.")
    present = {m.name for m in models}
    without_base = [m.short for m in models if m.is_dmr and baseline_of(m).name not in present]
    if without_base:
        notes.append(f"No baseline to test against for: {', '.join(without_base)}.")
    return notes


def _test_note(spec: ComparisonSpec) -> str:
    weak, strong = spec.levels
    return (
        f"Test: two-sided Wilcoxon signed-rank test of the per-case values, DMR vs the baseline "
        f"of the same architecture, paired by case within a phase; * p < {weak:g}, "
        f"** p < {strong:g}."
    )


def _interval_note(bootstrap: Bootstrap, paired: bool) -> str:
    how = ", paired for the agreement rows" if paired else ""
    return (
        f"95 % percentile bootstrap intervals of every value ({bootstrap.n_resamples} resamples "
        f"of the cases{how}, seed {bootstrap.seed}) are in the table's cells CSV (results/stats/)."
    )


def table2a(metrics: pd.DataFrame, bootstrap: Bootstrap | None = None) -> Table:
    """Paper Table II(a) (ACDC): per case the mean over RV, myocardium and LV; * p < 0.05."""
    return comparison_table(metrics, TABLE2A, bootstrap)


def table4(
    metrics: pd.DataFrame, clinical: pd.DataFrame, bootstrap: Bootstrap | None = None
) -> Table:
    """Paper Table IV (LVSC myocardium) with the myocardial mass correlation and bias (LoA)."""
    from dmr.tables.clinical import mass_rows

    bootstrap = bootstrap or Bootstrap()

    def extra(models: list[PaperModel], phases: list[str]) -> Rows:
        # Called once the metrics passed their checks, so their dataset is known to be one.
        return mass_rows(clinical, models, phases, one_dataset(metrics, TABLE4.name), bootstrap)

    return comparison_table(metrics, TABLE4, bootstrap, extra_rows=extra)


def table6(
    metrics: pd.DataFrame,
    part: str,
    bootstrap: Bootstrap | None = None,
    fold_metrics: pd.DataFrame | None = None,
) -> Table:
    """Paper Table VI(a) (``part`` "a": ACDC -> LVSC) or VI(b) ("b": LVSC -> ACDC);
    ``fold_metrics``: each fold network's own metrics on the same cases (replication)."""
    specs = {"a": TABLE6A, "b": TABLE6B}
    if part not in specs:
        raise ValueError(f"part must be 'a' or 'b'; got {part!r}")
    return comparison_table(metrics, specs[part], bootstrap, fold_metrics=fold_metrics)
