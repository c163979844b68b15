"""Every published number beside this run's, with a verdict: which of the paper's numbers came out
the same.

The reproduced numbers are the long "cells" tables (``results/stats/<table>.csv``) that the table
builders write; the published ones come from :func:`dmr.published.load_published`. Both are keyed
alike (:data:`dmr.published.vocabulary.KEY`), so the comparison is a left join of the published
numbers on the reproduced cells followed by the rules in :data:`VERDICT_RULES`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dmr.published.cells import combine_seeds
from dmr.published.vocabulary import KEY, base_of, is_our_model, printed_decimals

log = logging.getLogger(__name__)

#: The output's contract columns, then the ones that explain them.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "table",
    "dataset",
    "quantity",
    "phase",
    "structure",
    "region",
    "method",
    "published",
    "published_marker",
    "reproduced",
    "reproduced_marker",
    "difference",
    "verdict",
    "printed",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "n_seeds",
    "reproduced_replicated",
    "direction_verdict",
    "marker_verdict",
    "published_direction",
    "reproduced_direction",
    "base_published",
    "base_reproduced",
    "reproduced_dataset",
    "phantom",
    "detail",
    "note",
)

#: Tables whose DMR cells are compared with their baseline's (the paper's central claim).
DIRECTION_TABLES: tuple[str, ...] = ("IIa", "IIb", "IV", "VIa", "VIb")
#: Hardware-bound quantities (the paper's Titan Xp GPU).
TIMING_QUANTITIES: tuple[str, ...] = (
    "train_min_per_epoch",
    "test_ms_per_volume",
    "test_ms_per_volume_regularized",
)
VERDICTS: tuple[str, ...] = (
    "reproduced",
    "differs",
    "direction reproduced",
    "direction differs",
    "not comparable (phantoms)",
    "not comparable (hardware)",
    "undefined",
    "published only",
    "not run",
)

#: The rules, in the order they are applied; the Markdown header prints them.
VERDICT_RULES: tuple[str, ...] = (
    "`published only`: another method's number (Tables III, V); nothing of ours to compare.",
    "`not run`: this run wrote no cell with the number's key (table, dataset, quantity, phase, "
    "structure, region, method): the config did not produce it.",
    "`undefined`: the run wrote the cell but its value is NaN (e.g. a correlation of constant "
    "values).",
    "On phantom data the numbers are not comparable (they stand side by side), but the paper's "
    "claim is: a DMR cell of Tables II(a), II(b), IV, VI(a), VI(b) whose baseline ran too gets "
    "its direction verdict (below); every other cell `not comparable (phantoms)`. A "
    "cross-dataset cell is phantom when either dataset is.",
    "`not comparable (hardware)`: Table I's training and inference times (the paper's Titan Xp).",
    "`reproduced` when the published value lies in our 95 % bootstrap CI [ci_low, ci_high] "
    "(with several seeds: the hull of the seeds' CIs and values), widened by half a unit of the "
    "last printed digit because the paper rounds (91.1 stands for [91.05, 91.15]); a cell "
    "without a CI (parameter counts, n < 2) is `reproduced` when our value prints as the "
    "paper's, give or take that half unit. `differs` otherwise. Values are compared in the "
    "printed unit (percent for `*_pct`); `difference` = reproduced - published.",
    "Direction (columns `direction_verdict`, `marker_verdict`), for each DMR cell of Tables "
    "II(a), II(b), IV, VI(a), VI(b): DMR is `better`, `worse` or `equal` than its baseline "
    "(same table, dataset, quantity, phase, structure), both rounded to the printed decimals; "
    "better = higher Dice, Jaccard and correlation, lower MSD, HD and LoA, smaller |bias|. "
    "`direction reproduced` when our direction is the paper's, `direction differs` otherwise, "
    "`not run` when either of our two cells is missing. The pair's marker (printed on the DMR "
    "cell, once in Table IV on the baseline) is `marker reproduced` when ours is the same "
    "(both none counts), else `marker differs`.",
)

_HIGHER_BETTER_SUFFIXES = ("_pct", "_r")
_LOWER_BETTER_SUFFIXES = ("_mm", "_loa")


def dataset_roles(acdc: str = "acdc", lvsc: str = "lvsc") -> dict[str, str]:
    """Map config dataset names to the paper's roles, cross-dataset names included.

    An empty name (a config without that role) maps nothing.
    """
    roles = {name: role for name, role in ((acdc, "acdc"), (lvsc, "lvsc")) if name}
    if acdc and lvsc:
        roles[f"{acdc}_to_{lvsc}"] = "acdc_to_lvsc"
        roles[f"{lvsc}_to_{acdc}"] = "lvsc_to_acdc"
    return roles


def _role_is_phantom(role: str, roles: Mapping[str, str], phantoms: set[str]) -> bool:
    """Whether a paper role's numbers come from phantoms (cross-dataset: either dataset)."""
    if not role:
        return False  # Table I's parameter counts do not depend on data
    config_name = {paper: name for name, paper in roles.items()}
    return any(config_name.get(part, part) in phantoms for part in role.split("_to_"))


def _half_unit(printed: str) -> float:
    return 0.5 * 10.0 ** -printed_decimals(printed)


def _value_verdict(
    published: float, printed: str, value: float, low: float, high: float
) -> tuple[str, str]:
    """(verdict, detail) of one real-data cell by the CI rule of :data:`VERDICT_RULES`."""
    half = _half_unit(printed)
    eps = 1e-9 * max(1.0, abs(published))  # float noise at the exact edge
    if math.isfinite(low) and math.isfinite(high):
        inside = low - half - eps <= published <= high + half + eps
        where = "inside" if inside else "outside"
        detail = f"{printed} {where} CI [{low:.4g}, {high:.4g}] ± {half:g}"
    else:
        inside = abs(value - published) <= half + eps
        detail = f"no CI: {value:.4g} {'prints' if inside else 'does not print'} as {printed}"
    return ("reproduced" if inside else "differs"), detail


def _direction(quantity: str, dmr: float, base: float, decimals: int) -> str:
    """``better``, ``worse`` or ``equal``: DMR against its baseline at the printed precision."""
    dmr, base = round(dmr, decimals), round(base, decimals)
    if quantity.endswith("_bias"):
        gain = abs(base) - abs(dmr)
    elif quantity.endswith(_LOWER_BETTER_SUFFIXES):
        gain = base - dmr
    elif quantity.endswith(_HIGHER_BETTER_SUFFIXES):
        gain = dmr - base
    else:
        raise ValueError(f"no better/worse orientation for quantity {quantity!r}")
    gain = round(gain, decimals)
    return "better" if gain > 0 else ("worse" if gain < 0 else "equal")


def _add_directions(out: pd.DataFrame) -> None:
    """Fill the direction columns of every DMR cell that has a baseline (in place)."""
    index = {tuple(row): i for i, row in zip(out.index, out[list(KEY)].to_numpy(), strict=True)}
    for i in out.index[out["table"].isin(DIRECTION_TABLES)]:
        base = base_of(out.at[i, "method"])
        key = tuple(out.loc[i, list(KEY)])
        j = index.get((*key[:-1], base)) if base else None
        if j is None:
            continue
        quantity, decimals = out.at[i, "quantity"], printed_decimals(out.at[i, "printed"])
        out.at[i, "base_published"] = out.at[j, "published"]
        out.at[i, "base_reproduced"] = out.at[j, "reproduced"]
        out.at[i, "published_direction"] = _direction(
            quantity, out.at[i, "published"], out.at[j, "published"], decimals
        )
        ours = (out.at[i, "reproduced"], out.at[j, "reproduced"])
        if not all(math.isfinite(v) for v in ours):
            out.at[i, "direction_verdict"] = out.at[i, "marker_verdict"] = "not run"
            continue
        out.at[i, "reproduced_direction"] = _direction(quantity, *ours, decimals)
        same = out.at[i, "reproduced_direction"] == out.at[i, "published_direction"]
        out.at[i, "direction_verdict"] = "direction reproduced" if same else "direction differs"
        published_marker = out.at[i, "published_marker"] or out.at[j, "published_marker"]
        our_marker = out.at[i, "reproduced_marker"] or out.at[j, "reproduced_marker"]
        out.at[i, "marker_verdict"] = (
            "marker reproduced" if published_marker == our_marker else "marker differs"
        )


def _verdict(row: pd.Series) -> tuple[str, str]:
    """(verdict, detail) of one row by :data:`VERDICT_RULES`."""
    if not is_our_model(row["method"]):
        return "published only", ""
    if not row["run"]:
        return "not run", "no reproduced cell with this key"
    if not math.isfinite(row["reproduced"]):
        return "undefined", "the reproduced value is NaN"
    if row["phantom"]:
        if row["direction_verdict"] in ("direction reproduced", "direction differs"):
            return row["direction_verdict"], (
                f"phantoms: DMR {row['reproduced_direction']} than base here, "
                f"{row['published_direction']} in the paper"
            )
        return "not comparable (phantoms)", ""
    if row["quantity"] in TIMING_QUANTITIES:
        return "not comparable (hardware)", "the paper's times are on a Titan Xp GPU"
    return _value_verdict(
        row["published"], row["printed"], row["reproduced"], row["ci_low"], row["ci_high"]
    )


def paper_vs_reproduced(
    published: pd.DataFrame,
    cells: pd.DataFrame,
    phantom_datasets: Iterable[str] = (),
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per published number, with ours beside it and the verdicts of :data:`VERDICT_RULES`.

    Args:
        published: :func:`dmr.published.load_published`'s frame.
        cells: reproduced cells (:func:`~dmr.published.cells.read_cells`), ``value`` printed.
        phantom_datasets: config dataset names whose data are phantoms.
        roles: config dataset name -> paper role (:func:`dataset_roles`); identity by default.

    Returns the columns :data:`OUTPUT_COLUMNS`, in the published frame's order.
    """
    roles = dict(roles) if roles is not None else dataset_roles()
    phantoms = set(phantom_datasets)
    if "replicated" not in cells.columns:
        cells = cells.assign(replicated="")
    ours = combine_seeds(
        cells.assign(
            reproduced_dataset=cells["dataset"],
            dataset=cells["dataset"].map(lambda d: roles.get(d, d)),
        )
    )
    columns = [*KEY, "value", "ci_low", "ci_high", "n", "p_value", "marker", "n_seeds"]
    merged = published.merge(
        ours[[*columns, "replicated", "reproduced_dataset"]].rename(
            columns={
                "value": "reproduced",
                "marker": "reproduced_marker",
                "replicated": "reproduced_replicated",
            }
        ),
        on=list(KEY),
        how="left",
        validate="one_to_one",
        indicator=True,
    )
    out = merged.rename(columns={"value": "published", "marker": "published_marker"})
    out["run"] = out.pop("_merge") == "both"
    out["reproduced_marker"] = out["reproduced_marker"].fillna("")
    out["reproduced_replicated"] = out["reproduced_replicated"].fillna("")
    out["reproduced_dataset"] = out["reproduced_dataset"].fillna("")
    out["n_seeds"] = out["n_seeds"].fillna(0).astype(int)
    out["n"] = out["n"].round().astype("Int64")  # a count; empty when not run
    out["phantom"] = [_role_is_phantom(role, roles, phantoms) for role in out["dataset"]]
    out["difference"] = out["reproduced"] - out["published"]
    for name in (
        "published_direction",
        "reproduced_direction",
        "direction_verdict",
        "marker_verdict",
    ):
        out[name] = ""
    out["base_published"] = out["base_reproduced"] = np.nan
    _add_directions(out)
    verdicts = out.apply(_verdict, axis=1, result_type="expand")
    out["verdict"], out["detail"] = verdicts[0], verdicts[1]
    return out.loc[:, list(OUTPUT_COLUMNS)].reset_index(drop=True)


def unmatched_cells(
    published: pd.DataFrame, cells: pd.DataFrame, roles: Mapping[str, str]
) -> pd.DataFrame:
    """Reproduced cells whose key matches no published number (a vocabulary mismatch shows here)."""
    keyed = cells.assign(dataset=cells["dataset"].map(lambda d: roles.get(d, d)))
    merged = keyed.merge(published[list(KEY)], on=list(KEY), how="left", indicator=True)
    return merged.loc[merged["_merge"] == "left_only", [*KEY, "value", "source"]]
