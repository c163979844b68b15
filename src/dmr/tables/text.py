"""The numbers the paper quotes in its text, reproduced as cells (``table = text``).

* The abstract's average Dice (mean ± SD) of DMR-UNet in-domain: ACDC (per volume, the mean over
  RV, myocardium and LV) and LVSC (myocardium), ED and ES volumes pooled.
* The abstract's cross-dataset myocardium Dice, trained on LVSC and tested on ACDC: UNet
  (0.56 ± 0.28) and DMR-UNet (0.80 ± 0.14), ED and ES pooled.
* Section IV's learned task weights (the sigmas of Eq. 7) of DMR-UNet "for the best performing
  models on the validation set": the sigma of each fold's best-validation-Dice epoch, averaged
  over folds (CI over folds).

The SD the paper prints after "±" is not defined there; here it is the SD over volumes (ddof 1).
The regional Jaccard of the text is a Table V by-product (:mod:`dmr.tables.confusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dmr.errors import InputError
from dmr.labels import MAIN_MODEL, model_display_name
from dmr.tables.cells import Bootstrap, cell, cells_frame, mean_sd_cells
from dmr.tables.common import require_columns
from dmr.train.history import history_identity, read_history

TEXT = "text"
DMR_UNET = MAIN_MODEL
CROSS_MODELS = ("unet-base", "unet-dmr")
_NAME = model_display_name(DMR_UNET)
_CROSS_NAMES = [model_display_name(m) for m in CROSS_MODELS]


def volume_dice(metrics: pd.DataFrame, what: str) -> tuple[pd.Series, str]:
    """Per volume (case x phase) Dice: the mean over the structures present, and the cell's
    structure name (``mean`` for several structures, else the one structure)."""
    require_columns(metrics, ["dataset", "model", "case", "phase", "structure", "dice"], what)
    structures = sorted(metrics["structure"].unique())
    per_volume = metrics.groupby(["case", "phase"], sort=True)["dice"].mean()
    return per_volume, ("mean" if len(structures) > 1 else structures[0])


def _dice_cells(metrics: pd.DataFrame, what: str, bootstrap: Bootstrap) -> list[dict]:
    rows: list[dict] = []
    for (dataset, model), frame in metrics.groupby(["dataset", "model"], sort=True):
        values, structure = volume_dice(frame, what)
        rows += mean_sd_cells(
            values, TEXT, "dice", str(dataset), str(model), bootstrap, structure=structure
        )[3]
    return rows


def _sigma_cells(histories: Sequence[Path], bootstrap: Bootstrap) -> list[dict]:
    best: dict[str, list[tuple[float, float]]] = {}
    for path in histories:
        dataset, model, _ = history_identity(path)
        if model != DMR_UNET:
            raise InputError(f"{path}: the text's learned weights are {_NAME}'s, not {model}'s")
        history = read_history(path, required=("val_dice", "sigma_ce", "sigma_mad"))
        row = history.loc[history["val_dice"].idxmax()]
        best.setdefault(dataset, []).append((float(row["sigma_ce"]), float(row["sigma_mad"])))
    rows: list[dict] = []
    for dataset, values in sorted(best.items()):
        for index, quantity in enumerate(("sigma_ce", "sigma_mad")):
            per_fold = pd.Series([v[index] for v in values])
            rows.append(
                cell(
                    TEXT,
                    dataset,
                    quantity,
                    DMR_UNET,
                    float(per_fold.mean()),
                    bootstrap.mean(per_fold),
                    len(per_fold),
                    note="mean over folds of the sigma at each fold's best validation epoch",
                )
            )
    return rows


def text_cells(
    in_domain: pd.DataFrame,
    cross: pd.DataFrame,
    histories: Sequence[Path],
    bootstrap: Bootstrap | None = None,
) -> pd.DataFrame:
    """Cells of the text's figures from DMR-UNet's in-domain metrics, the cross-dataset metrics
    of UNet and DMR-UNet (trained on LVSC, tested on ACDC) and DMR-UNet's histories.

    Any of the three inputs may be empty (a config without that part): its cells are absent and
    the comparison reports them as not run.
    """
    bootstrap = bootstrap or Bootstrap()
    if not in_domain.empty and set(in_domain["model"]) != {DMR_UNET}:
        models = sorted(set(in_domain["model"]))
        raise InputError(f"the abstract's in-domain Dice is {_NAME}'s; got models {models}")
    if not cross.empty and not set(cross["model"]) <= set(CROSS_MODELS):
        raise InputError(
            f"the abstract's cross-dataset Dice is {' and '.join(_CROSS_NAMES)}'s; got models "
            f"{sorted(set(cross['model']))}"
        )
    rows: list[dict] = []
    if not in_domain.empty:
        rows += _dice_cells(in_domain, "in-domain metrics", bootstrap)
    if not cross.empty:
        rows += _dice_cells(cross, "cross-dataset metrics", bootstrap)
    rows += _sigma_cells(histories, bootstrap)
    return cells_frame(rows)
