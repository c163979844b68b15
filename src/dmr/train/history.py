"""Training histories (``results/<dataset>/models/<model>/fold<k>/history.csv``) read back.

Tables and figures identify a history by its path, as the workflow lays it out, and read it with
one function that names the file when it cannot be used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dmr.errors import InputError


def history_identity(path: str | Path) -> tuple[str, str, int]:
    """(dataset, model, fold) of ``results/<dataset>/models/<model>/fold<k>/history.csv``."""
    parts = Path(path).parts
    if (
        len(parts) < 5
        or parts[-1] != "history.csv"
        or parts[-4] != "models"
        or not parts[-2].startswith("fold")
        or not parts[-2][4:].isdigit()
    ):
        raise InputError(
            f"{path}: expected a path like results/<dataset>/models/<model>/fold<k>/history.csv"
        )
    return parts[-5], parts[-3], int(parts[-2][4:])


def read_history(path: str | Path, required: tuple[str, ...] = ("epoch",)) -> pd.DataFrame:
    """One history with at least one epoch row and the ``required`` columns."""
    try:
        history = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: unreadable history ({exc})") from exc
    missing = [c for c in required if c not in history.columns]
    if missing or history.empty:
        raise InputError(
            f"{path}: needs at least one epoch row with column(s) {list(required)}"
            + (f"; missing {missing}" if missing else "")
        )
    return history


#: Where sigma / L counts as at Eq. 7's equilibrium, and the share of a training's epochs after
#: which the default keeps it there (docs/miniature.md; Fig. S4 row (d) shades the band).
EQUILIBRIUM_BAND: tuple[float, float] = (0.8, 1.25)
EQUILIBRIUM_FROM = 0.3


def sigma_ratios(row: Mapping[str, float], learned: bool) -> dict[str, float]:
    """sigma / L of each task at the end of an epoch: its sigma over the epoch's mean training
    loss of that task (``sigma_ce_ratio``, ``sigma_mad_ratio``).

    Eq. 7 is minimal in sigma at sigma = L, so a ratio near 1 says the learned task weight is
    at its equilibrium, the regime the paper's networks train in (its sigma_CE ~ 0.01 and
    sigma_MAD ~ 13-17 are its two losses). NaN where the weights are not ``learned`` (CE models
    and the fixed weighting) or a loss is not positive.
    """
    ratios = {}
    for task in ("ce", "mad"):
        sigma, loss = row.get(f"sigma_{task}", math.nan), row.get(f"train_{task}", math.nan)
        usable = learned and math.isfinite(sigma) and loss > 0
        ratios[f"sigma_{task}_ratio"] = sigma / loss if usable else math.nan
    return ratios
