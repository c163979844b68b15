"""K-fold train / validation / test splits by case (paper II.E), optionally stratified by group.

The paper states "80 % train, 10 % validation, and 10 % test set with five non-overlapping folds".
Both cannot hold if every case is tested once: with K = 5 folds that partition the cases into
test sets, each test set is 20 % and the split is 70/10/20. The paper's own test counts (its "100
ACDC volumes" are 50 patients x ED/ES; "1050 LVSC volumes" about half the LVSC cases) show that
its five 10 % test folds covered only half of the data. Two protocols are therefore offered:

* ``test_fraction=None`` (the default config): the K test folds partition the cases, so every
  case is predicted exactly once in cross-validation (K = 5: 70/10/20 per fold);
* ``test_fraction=f`` (``config/paper.yaml``: 0.1): each of the K test folds holds
  ``round(f * n_cases)`` cases, the K test folds are disjoint, and the remaining cases are never
  tested (K = 5, f = 0.1: 80/10/10 per fold, half the cases tested), as the paper did.

``val_fraction`` is a fraction of *all* cases, drawn from each fold's non-test cases.

Splits are by case, so the ED and ES frames (and all slices) of a patient always share a split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dmr.errors import DatasetError

SPLITS: tuple[str, ...] = ("train", "val", "test")
FOLD_COLUMNS: tuple[str, ...] = ("fold", "case", "group", "split")


def _groups_known(groups: pd.Series) -> bool:
    return bool(groups.notna().all() and (groups.astype(str).str.strip() != "").all())


def _assign_test_folds(
    strata: list[np.ndarray], k: int, rng: np.random.Generator
) -> dict[int, int]:
    """Deal each stratum's shuffled cases round-robin onto the folds (position → test fold).

    Each stratum continues where the previous one stopped, so fold sizes differ by at most one
    overall while each group is spread evenly over the folds.
    """
    fold_of: dict[int, int] = {}
    next_fold = 0
    for members in strata:
        for position in rng.permutation(members):
            fold_of[int(position)] = next_fold
            next_fold = (next_fold + 1) % k
    return fold_of


def _draw_validation(
    candidates: np.ndarray,
    candidate_strata: np.ndarray,
    n_val: int,
    rng: np.random.Generator,
) -> set[int]:
    """Pick ``n_val`` of ``candidates``, proportionally per stratum (largest remainder)."""
    labels, counts = np.unique(candidate_strata, return_counts=True)
    quotas = counts * n_val / counts.sum()
    take = np.floor(quotas).astype(int)
    shortfall = n_val - int(take.sum())
    # Largest remainders first; ties broken randomly but reproducibly.
    order = np.lexsort((rng.random(labels.size), -(quotas - take)))
    take[order[:shortfall]] += 1
    chosen: set[int] = set()
    for label, n_take in zip(labels, take, strict=True):
        members = candidates[candidate_strata == label]
        chosen.update(int(p) for p in rng.choice(members, size=n_take, replace=False))
    return chosen


def _tested_positions(
    strata: np.ndarray, n_tested: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Per stratum, the positions that enter a test fold: all of them, or a proportional draw
    (largest remainder) of ``n_tested`` cases in total under the paper's protocol."""
    labels = sorted(set(strata))
    members = [np.flatnonzero(strata == label) for label in labels]
    if n_tested >= strata.size:
        return members
    chosen = _draw_validation(np.arange(strata.size), strata, n_tested, rng)
    return [np.array(sorted(p for p in group if p in chosen), dtype=int) for group in members]


def make_folds(
    cases: pd.DataFrame,
    k: int,
    val_fraction: float,
    seed: int,
    stratify: bool,
    test_fraction: float | None = None,
) -> pd.DataFrame:
    """One row per fold x case with columns ``fold, case, group, split``.

    Args:
        cases: a table with a ``case`` column and optionally ``group`` (``cases.csv``).
        k: number of folds, 2 <= k <= number of cases; the test folds partition the cases.
        val_fraction: validation share of *all* cases, ``0 < val_fraction < 1 - 1/k``;
            ``round(val_fraction * n_cases)`` (at least 1) cases per fold, taken from the
            cases not tested in that fold.
        seed: seed of the numpy Generator; the same seed gives the same split.
        stratify: spread every group evenly over test and validation sets; used only when the
            ``group`` column exists and is non-empty for every case, otherwise the split is
            random over all cases.
        test_fraction: ``None``: the test folds partition the cases. A fraction ``f``: each test
            fold holds ``round(f * n_cases)`` cases (at least 1), the folds are disjoint, cases
            outside every test fold are only trained/validated on (``k * f <= 1``).

    Raises:
        ValueError: on a missing ``case`` column, duplicate case ids or out-of-range k /
            val_fraction / test_fraction (the message shows the offending values).
    """
    if "case" not in cases.columns:
        raise ValueError(f"cases table needs a 'case' column, got columns {list(cases.columns)}")
    case_ids = cases["case"].astype(str).to_numpy()
    n_cases = case_ids.size
    duplicated = sorted(set(case_ids[pd.Series(case_ids).duplicated().to_numpy()]))
    if duplicated:
        raise ValueError(f"duplicate case ids in the cases table: {duplicated}")
    if not 2 <= k <= n_cases:
        raise ValueError(f"k must satisfy 2 <= k <= number of cases ({n_cases}), got k={k}")
    if test_fraction is None:
        n_per_test_fold = None
        test_share = 1 / k
    else:
        if not 0 < test_fraction <= 1 / k:
            raise ValueError(
                f"test_fraction must satisfy 0 < test_fraction <= 1/k = {1 / k:.3f} (disjoint "
                f"test folds), got {test_fraction}"
            )
        n_per_test_fold = max(1, round(test_fraction * n_cases))
        test_share = n_per_test_fold / n_cases
    if not 0 < val_fraction < 1 - test_share:
        raise ValueError(
            f"val_fraction must satisfy 0 < val_fraction < 1 - (test share {test_share:.3f}) = "
            f"{1 - test_share:.3f}, got {val_fraction}"
        )

    if "group" in cases.columns:
        groups = cases["group"]
        group_text = groups.fillna("").astype(str).to_numpy()
    else:
        groups = pd.Series([None] * n_cases)
        group_text = np.full(n_cases, "", dtype=object)
    use_strata = stratify and _groups_known(groups)
    strata = group_text if use_strata else np.full(n_cases, "", dtype=object)

    rng = np.random.default_rng(seed)
    n_tested = n_cases if n_per_test_fold is None else k * n_per_test_fold
    test_fold = _assign_test_folds(_tested_positions(strata, n_tested, rng), k, rng)
    n_val = max(1, round(val_fraction * n_cases))

    rows = []
    for fold in range(k):
        non_test = np.array([p for p in range(n_cases) if test_fold.get(p) != fold])
        if n_val >= non_test.size:
            raise ValueError(
                f"fold {fold}: {n_val} validation cases leave no training case among "
                f"{non_test.size} non-test cases (n_cases={n_cases}, k={k}, "
                f"val_fraction={val_fraction})"
            )
        validation = _draw_validation(non_test, strata[non_test], n_val, rng)
        for position in range(n_cases):
            if test_fold.get(position) == fold:
                split = "test"
            elif position in validation:
                split = "val"
            else:
                split = "train"
            rows.append((fold, case_ids[position], group_text[position], split))
    return pd.DataFrame(rows, columns=list(FOLD_COLUMNS))


def leave_one_group_out(
    cases: pd.DataFrame, k: int, val_fraction: float, seed: int
) -> pd.DataFrame:
    """One fold per group: fold ``i`` tests every case of the ``i``-th group (sorted) and trains
    on the other groups, with ``round(val_fraction * n_cases)`` validation cases drawn from them
    proportionally per group (M&Ms: leave-one-vendor-out, the multi-vendor form of the paper's
    cross-dataset Table VI).

    ``k`` must equal the number of groups: the workflow needs the number of folds before it has
    read the data, so a config that disagrees with the data is refused, naming the groups.
    """
    if "case" not in cases.columns or "group" not in cases.columns:
        raise ValueError(f"cases table needs 'case' and 'group' columns, got {list(cases.columns)}")
    groups = cases["group"]
    if not _groups_known(groups):
        missing = cases.loc[groups.isna() | (groups.astype(str).str.strip() == ""), "case"]
        raise ValueError(
            "leave-one-group-out needs a group for every case; none for "
            f"{', '.join(map(str, missing.tolist()[:10]))}"
        )
    group_text = groups.astype(str).to_numpy()
    names = sorted(set(group_text))
    if len(names) != k or k < 2:
        raise ValueError(
            f"leave-one-group-out: the data have {len(names)} group(s) ({', '.join(names)}) but "
            f"k = {k}; set folds.k to {len(names)}"
            + (" (at least 2 are needed)" if len(names) < 2 else "")
        )
    case_ids = cases["case"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    n_val = max(1, round(val_fraction * case_ids.size))
    rows = []
    for fold, name in enumerate(names):
        non_test = np.flatnonzero(group_text != name)
        if n_val >= non_test.size:
            raise ValueError(
                f"fold {fold} (group {name}): {n_val} validation cases leave no training case "
                f"among the {non_test.size} cases of the other groups"
            )
        validation = _draw_validation(non_test, group_text[non_test], n_val, rng)
        for position, case in enumerate(case_ids):
            if group_text[position] == name:
                split = "test"
            elif position in validation:
                split = "val"
            else:
                split = "train"
            rows.append((fold, case, group_text[position], split))
    return pd.DataFrame(rows, columns=list(FOLD_COLUMNS))


def read_folds(folds_csv: str | Path) -> pd.DataFrame:
    """The fold manifest written by :func:`make_folds`, checked once for every later step.

    Returns the ``fold, case, group, split`` rows with ``fold`` as int, ``case`` as str and an
    unknown ``group`` as "". Raises ``DatasetError`` naming the file for a missing or unreadable
    file, missing columns, or split values other than train / val / test.
    """
    folds_csv = Path(folds_csv)
    if not folds_csv.is_file():
        raise DatasetError(f"{folds_csv}: folds file not found")
    try:
        folds = pd.read_csv(folds_csv, dtype={"case": str, "group": str, "split": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{folds_csv}: unreadable folds file ({exc})") from exc
    missing = [c for c in FOLD_COLUMNS if c not in folds.columns]
    if missing:
        raise DatasetError(f"{folds_csv}: missing column(s) {missing}; has {list(folds.columns)}")
    unknown = sorted(set(folds["split"].dropna()) - set(SPLITS)) + (
        ["(empty)"] if folds["split"].isna().any() else []
    )
    if unknown:
        raise DatasetError(f"{folds_csv}: split values {unknown} outside {list(SPLITS)}")
    folds["fold"] = folds["fold"].astype(int)
    folds["group"] = folds["group"].fillna("")
    return folds[list(FOLD_COLUMNS)]
