"""Paper Table I: parameters, training minutes per epoch and test milliseconds per volume."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dmr.errors import InputError
from dmr.tables.cells import Bootstrap, Interval, cell, cells_frame
from dmr.tables.common import MISSING, PAPER_MODELS
from dmr.tables.render import Table
from dmr.train.history import history_identity, read_history

#: (arch, variant, row label) in the paper's row order (baselines first, then DMR).
TABLE1_MODELS: tuple[tuple[str, str, str], ...] = tuple(
    (m.arch, m.variant, m.long)
    for variant in ("base", "dmr")
    for m in PAPER_MODELS
    if m.variant == variant
)
_TIMING_COLUMNS = (
    "dataset",
    "model",
    "fold",
    "case",
    "phase",
    "ms_plain",
    "ms_regularized",
    "device",
)


def _dataset_order(names: set[str]) -> list[str]:
    preferred = [d for d in ("acdc", "lvsc") if d in names]
    return preferred + sorted(names - set(preferred))


def _read_histories(histories: Sequence[Path]) -> pd.DataFrame:
    frames = []
    for path in histories:
        dataset, model, fold = history_identity(path)
        history = read_history(path, required=("seconds",))
        frames.append(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "model": model,
                    "fold": fold,
                    "minutes": history["seconds"].astype(float) / 60.0,
                    "device": (
                        history["device"].astype(str)
                        if "device" in history.columns
                        else "not recorded"
                    ),
                    # Training precision (fp32/bf16/fp16), recorded by newer training runs.
                    "precision": (
                        history["precision"].astype(str) if "precision" in history.columns else None
                    ),
                    "path": str(path),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _read_timings(timings: Sequence[Path]) -> pd.DataFrame:
    frames = []
    for path in timings:
        try:
            timing = pd.read_csv(path, dtype={"dataset": str, "model": str, "device": str})
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"{path}: unreadable timing table ({exc})") from exc
        missing = [c for c in _TIMING_COLUMNS if c not in timing.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}; has {list(timing.columns)}")
        frames.append(timing)
    return pd.concat(frames, ignore_index=True)


def _trained_widths(histories: pd.DataFrame) -> dict[str, set[int]]:
    """Width recorded in the ``model.pt`` beside one history per dataset/model (when present)."""
    import torch

    widths: dict[str, set[int]] = {}
    for (dataset, model), rows in histories.groupby(["dataset", "model"], sort=True):
        bundle_path = Path(rows["path"].iloc[0]).with_name("model.pt")
        if not bundle_path.is_file():
            continue
        try:
            bundle = torch.load(bundle_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unpickling failure means the file is unusable
            raise InputError(f"{bundle_path}: unreadable model bundle ({exc})") from exc
        width = (bundle.get("model_config") or {}).get("width")
        if width is not None:
            widths.setdefault(f"{dataset}/{model}", set()).add(int(width))
    return widths


def _parameter_counts(arch: str, variant: str, width: int) -> tuple[int, int]:
    """(train, test) parameter counts: with and without the regularizer decoder."""
    from dmr.models import build_model

    model = build_model(arch, regularized=variant == "dmr", num_classes=4, width=width)
    test_model = model.without_regularizer() if variant == "dmr" else model
    return (
        sum(p.numel() for p in model.parameters()),
        sum(p.numel() for p in test_model.parameters()),
    )


def table1(
    histories: list[Path],
    timings: list[Path],
    width: int = 32,
    bootstrap: Bootstrap | None = None,
) -> Table:
    """Paper Table I: train min/epoch, test ms/volume and parameters (x10^6) of each model.

    Train time: mean of ``seconds``/60 over every epoch of every fold, from
    ``results/<dataset>/models/<model>/fold<k>/history.csv`` (dataset, model and fold are read
    from that path). Test time: mean ``ms_plain`` per volume of each timing CSV; DMR models show
    "plain (regularized)". Parameters are counted on ``build_model(arch, regularized,
    num_classes=4, width=width)`` and on its ``without_regularizer()`` network. Rows are the six
    paper models that appear in the inputs; other variants are listed as ignored. Cells carry
    bootstrap intervals over epochs (train) and volumes (test); parameter counts are exact.
    """
    bootstrap = bootstrap or Bootstrap()
    if not histories and not timings:
        raise InputError("Table I needs at least one history.csv or timing CSV")
    history = (
        _read_histories(histories)
        if histories
        else pd.DataFrame(
            columns=["dataset", "model", "fold", "minutes", "device", "precision", "path"]
        )
    )
    timing = _read_timings(timings) if timings else pd.DataFrame(columns=list(_TIMING_COLUMNS))
    datasets = _dataset_order(set(history["dataset"]) | set(timing["dataset"].astype(str)))
    present = set(history["model"]) | set(timing["model"].astype(str))
    known = {f"{arch}-{variant}" for arch, variant, _ in TABLE1_MODELS}
    ignored = sorted(present - known)
    rows_of = [(a, v, label) for a, v, label in TABLE1_MODELS if f"{a}-{v}" in present]
    if not rows_of:
        raise InputError(f"no base/dmr SegNet, USegNet or UNet in the inputs (found {ignored})")

    csv_rows, display_rows, cells = [], {}, []
    devices: dict[str, set[str]] = {}
    missing_cells: list[str] = []
    for arch, variant, label in rows_of:
        model = f"{arch}-{variant}"
        csv_row: dict[str, object] = {"model": model, "label": label}
        shown: dict[tuple[str, str], str] = {}
        for dataset in datasets:
            epochs = history[(history["dataset"] == dataset) & (history["model"] == model)]
            train_min = float(epochs["minutes"].mean()) if len(epochs) else float("nan")
            csv_row[f"train_min_per_epoch_{dataset}"] = train_min
            csv_row[f"train_epochs_{dataset}"] = len(epochs)
            volumes = timing[(timing["dataset"] == dataset) & (timing["model"] == model)]
            ms_plain = float(volumes["ms_plain"].mean()) if len(volumes) else float("nan")
            ms_regularized = (
                float(volumes["ms_regularized"].mean())
                if len(volumes) and variant == "dmr"
                else float("nan")
            )
            csv_row[f"test_ms_plain_{dataset}"] = ms_plain
            csv_row[f"test_ms_regularized_{dataset}"] = ms_regularized
            csv_row[f"test_volumes_{dataset}"] = len(volumes)
            device_names = sorted(volumes["device"].astype(str).unique())
            csv_row[f"test_device_{dataset}"] = "; ".join(device_names)
            devices.setdefault(dataset, set()).update(device_names)
            name = dataset.upper()
            shown[("Train (min/epoch)", name)] = (
                f"{train_min:.2f}" if np.isfinite(train_min) else MISSING
            )
            test_text = f"{ms_plain:.0f}" if np.isfinite(ms_plain) else MISSING
            if variant == "dmr" and np.isfinite(ms_regularized):
                test_text += f" ({ms_regularized:.0f})"
            shown[("Test (ms/volume)", name)] = test_text
            if not len(epochs):
                missing_cells.append(f"{label} {name} train")
            if not len(volumes):
                missing_cells.append(f"{label} {name} test")
            for quantity, samples, value in (
                ("train_min_per_epoch", epochs["minutes"], train_min),
                ("test_ms_per_volume", volumes["ms_plain"], ms_plain),
                ("test_ms_per_volume_regularized", volumes["ms_regularized"], ms_regularized),
            ):
                if np.isfinite(value):
                    cells.append(
                        cell(
                            "I",
                            dataset,
                            quantity,
                            model,
                            value,
                            bootstrap.mean(samples.to_numpy(float)),
                            len(samples),
                        )
                    )
        n_train, n_test = _parameter_counts(arch, variant, width)
        csv_row["params_train_millions"] = n_train / 1e6
        csv_row["params_test_millions"] = n_test / 1e6
        for quantity, count in (
            ("params_train_millions", n_train),
            ("params_test_millions", n_test),
        ):
            exact = Interval(note="exact count")
            cells.append(cell("I", "", quantity, model, count / 1e6, exact, None))
        shown[("Parameters (×10⁶)", "Train")] = f"{n_train / 1e6:.2f}"
        shown[("Parameters (×10⁶)", "Test")] = f"{n_test / 1e6:.2f}"
        csv_rows.append(csv_row)
        display_rows[label] = shown

    display = pd.DataFrame.from_dict(display_rows, orient="index")
    display = display[sorted(display.columns, key=_table1_column_order(datasets))]
    display.columns = pd.MultiIndex.from_tuples(display.columns)
    notes = _table1_notes(history, devices, missing_cells, ignored, width)
    notes.append(
        f"95 % percentile bootstrap intervals of the times ({bootstrap.n_resamples} resamples of "
        f"the epochs / volumes, seed {bootstrap.seed}) are in the table's cells CSV "
        "(results/stats/)."
    )
    caption = (
        "Table I: model complexity, training and testing time. DMR networks have their "
        "baseline's size at test time; their inference time with the regularization block kept "
        "is shown in brackets."
    )
    return Table(
        frame=pd.DataFrame(csv_rows),
        caption=caption,
        notes=notes,
        display=display,
        cells=cells_frame(cells),
    )


def _table1_column_order(datasets: list[str]):
    groups = ["Train (min/epoch)", "Test (ms/volume)", "Parameters (×10⁶)"]
    subs = [d.upper() for d in datasets] + ["Train", "Test"]

    def key(column: tuple[str, str]) -> tuple[int, int]:
        return groups.index(column[0]), subs.index(column[1])

    return key


def _shared_note(
    verb: str, values: dict[str, set[str]], shared: str, complete: bool = True
) -> list[str]:
    """``shared`` + the values once when every part (``"ACDC training"``, ...) has the same ones
    (and, ``complete``, no dataset lacks them), else one ``"<part> <verb>: ..."`` note per part:
    a run on one device says so once, not once per dataset and timing."""
    if not values:
        return []
    distinct = {tuple(sorted(v)) for v in values.values()}
    if len(distinct) == 1 and complete:
        return [f"{shared}: {', '.join(distinct.pop())}."]
    return [f"{part} {verb}: {', '.join(sorted(v))}." for part, v in values.items()]


def _table1_notes(
    history: pd.DataFrame,
    devices: dict[str, set[str]],
    missing_cells: list[str],
    ignored: list[str],
    width: int,
) -> list[str]:
    notes = [
        f"Parameters counted at width {width} (first-level channels) with 4 classes; train "
        "includes the distance map decoder, test is the network without it.",
        "Train time: mean over all epochs of all folds (history.csv 'seconds'). Test time: mean "
        "over test volumes of one forward pass.",
    ]
    measured: dict[str, set[str]] = {}
    if len(history):
        for dataset, names in history.groupby("dataset")["device"].unique().items():
            measured[f"{str(dataset).upper()} training"] = set(map(str, names))
    for dataset, names in sorted(devices.items()):
        if names:
            measured[f"{dataset.upper()} test timings"] = set(names)
    notes += _shared_note("measured on", measured, "Timings measured on (every dataset)")
    if len(history):
        recorded = history.dropna(subset=["precision"])
        precisions = {
            f"{str(dataset).upper()} training": set(map(str, names))
            for dataset, names in recorded.groupby("dataset")["precision"].unique().items()
        }
        complete = len(precisions) == history["dataset"].nunique()
        notes += _shared_note(
            "precision", precisions, "Training precision (every dataset)", complete
        )
    if len(history):
        trained = _trained_widths(history)
        differing = {k: v for k, v in trained.items() if v != {width}}
        shared = {tuple(sorted(v)) for v in differing.values()}
        every = len(differing) == history.groupby(["dataset", "model"]).ngroups
        if differing and every and len(shared) == 1:
            widths = ", ".join(map(str, shared.pop()))
            notes.append(f"Every model was trained at width {widths}, not the {width} counted.")
        elif differing:
            listed = "; ".join(f"{k} width {sorted(v)}" for k, v in sorted(differing.items()))
            notes.append(
                f"Models were trained at a different width than counted ({width}): {listed}."
            )
    if missing_cells:
        notes.append(f"No data ({MISSING}): {', '.join(missing_cells)}.")
    if ignored:
        notes.append(f"Not part of Table I, ignored: {', '.join(ignored)}.")
    return notes
