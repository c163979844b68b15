"""Case-level K-fold splits: partition, coverage, stratification, determinism, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmr.errors import DatasetError
from dmr.preprocess.folds import make_folds, read_folds


def _cases(n_per_group: int = 20, groups: tuple[str, ...] = ("NOR", "MINF", "DCM", "HCM", "RV")):
    rows = [
        {"case": f"patient{g}{i:03d}", "group": group}
        for g, group in enumerate(groups)
        for i in range(n_per_group)
    ]
    return pd.DataFrame(rows)


def test_every_case_tested_once_and_splits_disjoint() -> None:
    cases = _cases()
    folds = make_folds(cases, k=5, val_fraction=0.1, seed=0, stratify=True)
    assert list(folds.columns) == ["fold", "case", "group", "split"]
    assert len(folds) == 5 * len(cases)
    # One row per fold x case: a case's splits within a fold are exclusive by construction.
    assert not folds.duplicated(["fold", "case"]).any()
    tested = folds[folds.split == "test"]
    assert sorted(tested.case) == sorted(cases.case)  # each case in exactly one test fold
    for _, fold in folds.groupby("fold"):
        counts = fold.split.value_counts()
        assert counts["test"] == 20 and counts["val"] == 10 and counts["train"] == 70


def test_stratified_groups_are_spread_over_test_and_validation_folds() -> None:
    folds = make_folds(_cases(), k=5, val_fraction=0.1, seed=3, stratify=True)
    test_counts = folds[folds.split == "test"].groupby(["fold", "group"]).size()
    assert (test_counts == 4).all() and len(test_counts) == 25
    val_counts = folds[folds.split == "val"].groupby(["fold", "group"]).size()
    assert (val_counts == 2).all() and len(val_counts) == 25


def test_unstratified_split_ignores_groups_and_empty_groups_disable_stratification() -> None:
    cases = _cases(n_per_group=10, groups=("a", "b"))
    cases.loc[0, "group"] = np.nan  # unknown group -> random split
    folds = make_folds(cases, k=4, val_fraction=0.2, seed=1, stratify=True)
    assert sorted(folds[folds.split == "test"].case) == sorted(cases.case)
    assert (folds.groupby("fold").split.apply(lambda s: (s == "val").sum()) == 4).all()
    no_group = make_folds(cases[["case"]], k=4, val_fraction=0.2, seed=1, stratify=True)
    assert (no_group.group == "").all()


def test_deterministic_by_seed() -> None:
    cases = _cases(n_per_group=6)
    first = make_folds(cases, k=3, val_fraction=0.2, seed=7, stratify=True)
    again = make_folds(cases, k=3, val_fraction=0.2, seed=7, stratify=True)
    other = make_folds(cases, k=3, val_fraction=0.2, seed=8, stratify=True)
    pd.testing.assert_frame_equal(first, again)
    assert not first.split.equals(other.split)


def test_errors_name_the_values() -> None:
    cases = _cases(n_per_group=3, groups=("a",))
    with pytest.raises(ValueError, match="k=1"):
        make_folds(cases, k=1, val_fraction=0.1, seed=0, stratify=False)
    with pytest.raises(ValueError, match="k=4"):
        make_folds(cases, k=4, val_fraction=0.1, seed=0, stratify=False)
    with pytest.raises(ValueError, match="val_fraction"):
        make_folds(_cases(), k=5, val_fraction=0.8, seed=0, stratify=False)
    with pytest.raises(ValueError, match="val_fraction"):
        make_folds(_cases(), k=5, val_fraction=0.0, seed=0, stratify=False)
    duplicated = pd.concat([cases, cases.iloc[:1]])
    with pytest.raises(ValueError, match="patient0000"):
        make_folds(duplicated, k=2, val_fraction=0.1, seed=0, stratify=False)


def test_read_folds_returns_what_make_folds_wrote(tmp_path) -> None:
    folds = make_folds(_cases(2), k=2, val_fraction=0.2, seed=0, stratify=True)
    folds.to_csv(tmp_path / "folds.csv", index=False)
    pd.testing.assert_frame_equal(read_folds(tmp_path / "folds.csv"), folds, check_dtype=False)


def test_read_folds_names_the_file_and_the_problem(tmp_path) -> None:
    path = tmp_path / "folds.csv"
    with pytest.raises(DatasetError, match=r"folds\.csv: folds file not found"):
        read_folds(path)
    folds = make_folds(_cases(2), k=2, val_fraction=0.2, seed=0, stratify=True)
    folds.drop(columns="split").to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['split'\]"):
        read_folds(path)
    folds.loc[0, "split"] = "holdout"
    folds.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"split values \['holdout'\]"):
        read_folds(path)


def test_paper_protocol_tests_half_the_cases_in_five_disjoint_ten_percent_folds() -> None:
    cases = _cases()  # 100 cases, 20 per group
    folds = make_folds(cases, k=5, val_fraction=0.1, seed=0, stratify=True, test_fraction=0.1)
    tested = folds[folds.split == "test"]
    assert not tested.case.duplicated().any()  # disjoint test folds
    assert tested.case.nunique() == 50  # half the cases tested
    for _, fold in folds.groupby("fold"):
        counts = fold.split.value_counts()
        assert (counts["train"], counts["val"], counts["test"]) == (80, 10, 10)
    # stratified: every group keeps half its cases in a test fold, two per fold
    assert (tested.groupby("group").size() == 10).all()
    assert (tested.groupby(["fold", "group"]).size() == 2).all()
    never_tested = set(cases.case) - set(tested.case)
    assert all(folds[folds.case.isin(never_tested)].split != "test")


def test_default_protocol_is_unchanged_by_the_test_fraction_option() -> None:
    cases = _cases(n_per_group=6)
    pd.testing.assert_frame_equal(
        make_folds(cases, k=3, val_fraction=0.2, seed=7, stratify=True),
        make_folds(cases, k=3, val_fraction=0.2, seed=7, stratify=True, test_fraction=None),
    )


def test_test_fraction_beyond_disjoint_folds_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"test_fraction must satisfy .* got 0.3"):
        make_folds(_cases(), k=5, val_fraction=0.1, seed=0, stratify=True, test_fraction=0.3)


def test_leave_one_group_out_tests_each_group_once_and_trains_on_the_others() -> None:
    from dmr.preprocess.folds import leave_one_group_out

    cases = pd.DataFrame({"case": [f"c{i}" for i in range(9)], "group": ["A", "B", "C"] * 3})
    folds = leave_one_group_out(cases, k=3, val_fraction=0.2, seed=0)
    for fold, group in enumerate(["A", "B", "C"]):
        rows = folds[folds["fold"] == fold]
        assert set(rows.loc[rows["split"] == "test", "group"]) == {group}
        assert (rows.loc[rows["group"] == group, "split"] == "test").all()
        assert set(rows.loc[rows["split"] != "test", "group"]) == {"A", "B", "C"} - {group}
        assert (rows["split"] == "val").sum() == 2
    pd.testing.assert_frame_equal(folds, leave_one_group_out(cases, 3, 0.2, 0))


def test_leave_one_group_out_names_the_groups_when_k_disagrees() -> None:
    from dmr.preprocess.folds import leave_one_group_out

    cases = pd.DataFrame({"case": ["a", "b", "c", "d"], "group": ["A", "B", "A", "B"]})
    with pytest.raises(ValueError, match=r"2 group\(s\) \(A, B\) but k = 3; set folds.k to 2"):
        leave_one_group_out(cases, k=3, val_fraction=0.25, seed=0)
    cases.loc[1, "group"] = None
    with pytest.raises(ValueError, match="needs a group for every case; none for b"):
        leave_one_group_out(cases, k=2, val_fraction=0.25, seed=0)
