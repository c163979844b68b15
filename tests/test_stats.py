"""Statistics helpers against scipy and hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from dmr.evaluation.stats import (
    agreement,
    bootstrap_ci,
    bootstrap_statistic_ci,
    loa_half_width,
    mean_difference,
    pearson_r,
    significance_marker,
    wilcoxon_signed_rank,
)


def test_wilcoxon_matches_scipy_and_drops_nan_pairs() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.85, 0.05, 30)
    y = x + rng.normal(0.01, 0.02, 30)
    expected = scipy_stats.wilcoxon(x, y).pvalue
    x_nan = np.append(x, [np.nan, 0.5])
    y_nan = np.append(y, [0.4, np.nan])
    result = wilcoxon_signed_rank(x_nan, y_nan)
    assert result.p_value == pytest.approx(expected)
    assert (result.n, result.n_dropped) == (30, 2)


def test_wilcoxon_degenerate_inputs() -> None:
    assert wilcoxon_signed_rank([1.0, 2.0], [1.0, 2.0]).p_value == 1.0
    empty = wilcoxon_signed_rank([np.nan], [1.0])
    assert math.isnan(empty.p_value) and empty.n == 0 and empty.n_dropped == 1
    with pytest.raises(ValueError, match="length"):
        wilcoxon_signed_rank([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("p", "marker"),
    [(0.001, "**"), (0.0049, "**"), (0.005, "*"), (0.03, "*"), (0.05, ""), (0.5, ""), (np.nan, "")],
)
def test_significance_marker_thresholds(p: float, marker: str) -> None:
    assert significance_marker(p) == marker


def test_significance_marker_custom_levels() -> None:
    assert significance_marker(0.005, levels=(0.01, 0.001)) == "*"
    with pytest.raises(ValueError, match="levels"):
        significance_marker(0.01, levels=(0.001, 0.01))


def test_bootstrap_ci_contains_mean_and_is_deterministic() -> None:
    values = np.random.default_rng(1).normal(0.8, 0.1, 40)
    low, high = bootstrap_ci(values, n_resamples=2000, seed=3)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_ci(values, n_resamples=2000, seed=3)
    wider = bootstrap_ci(values, confidence=0.99, n_resamples=2000, seed=3)
    assert wider[0] < low and wider[1] > high
    assert bootstrap_ci([0.5, 0.5, 0.5], n_resamples=100) == (0.5, 0.5)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([0.5, np.nan, 0.7])


def test_agreement_on_known_numbers() -> None:
    reference = [10.0, 20.0, 30.0, 40.0, np.nan]
    prediction = [12.0, 21.0, 33.0, 40.0, 50.0]
    out = agreement(reference, prediction)
    differences = np.array([2.0, 1.0, 3.0, 0.0])  # prediction - reference
    assert out["n"] == 4 and out["n_dropped"] == 1
    assert out["bias"] == pytest.approx(1.5)
    assert out["loa_half_width"] == pytest.approx(1.96 * differences.std(ddof=1))
    assert out["loa_low"] == pytest.approx(1.5 - out["loa_half_width"])
    expected_r = scipy_stats.pearsonr([10, 20, 30, 40], [12, 21, 33, 40]).statistic
    assert out["pearson_r"] == pytest.approx(expected_r)
    assert math.isnan(agreement([1.0, 1.0], [2.0, 3.0])["pearson_r"])


def test_bootstrap_statistic_ci_matches_mean_ci_and_pairs_samples() -> None:
    values = np.random.default_rng(2).normal(0.8, 0.1, 30)
    # The one-sample path with the mean is the same resampling as bootstrap_ci.
    low, high = bootstrap_statistic_ci(
        (values,), lambda x, axis: x.mean(axis=axis), paired=False, n_resamples=500, seed=4
    )
    assert (low, high) == pytest.approx(bootstrap_ci(values, n_resamples=500, seed=4))
    # Paired: a prediction that is the reference plus a constant shift has bias exactly that
    # shift on every resample only if pairs stay together.
    reference = np.random.default_rng(3).normal(100, 20, 25)
    shifted = reference + 2.0 + np.random.default_rng(5).normal(0, 0.01, 25)
    low, high = bootstrap_statistic_ci((reference, shifted), mean_difference, n_resamples=500)
    assert 1.98 < low < high < 2.02
    r_low, r_high = bootstrap_statistic_ci((reference, shifted), pearson_r, n_resamples=500)
    assert 0.999 < r_low <= r_high <= 1.0
    loa = bootstrap_statistic_ci((reference, shifted), loa_half_width, n_resamples=500)
    assert loa == bootstrap_statistic_ci((reference, shifted), loa_half_width, n_resamples=500)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_statistic_ci(([1.0, np.nan, 2.0],), pearson_r, paired=False)
    with pytest.raises(ValueError, match="length"):
        bootstrap_statistic_ci(([1.0, 2.0], [1.0, 2.0, 3.0]), pearson_r)


def test_vectorised_statistics_match_agreement() -> None:
    rng = np.random.default_rng(6)
    reference = rng.normal(60, 10, 40)
    prediction = reference + rng.normal(1, 4, 40)
    out = agreement(reference, prediction)
    assert pearson_r(reference, prediction) == pytest.approx(out["pearson_r"])
    assert mean_difference(reference, prediction) == pytest.approx(out["bias"])
    assert loa_half_width(reference, prediction) == pytest.approx(out["loa_half_width"])
    # Along the last axis of a batch, as scipy's vectorised bootstrap calls them.
    batch = np.stack([reference, reference[::-1]])
    assert pearson_r(batch, np.stack([prediction, prediction[::-1]])).shape == (2,)
    assert np.isnan(pearson_r(np.ones(5), np.arange(5.0)))
