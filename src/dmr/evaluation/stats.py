"""Statistics of the paper: Wilcoxon signed-rank tests, bootstrap CIs, correlation and agreement.

Missing values (NaN, e.g. a surface distance undefined because one mask is empty) are never
dropped silently: paired functions drop incomplete pairs and report how many they dropped;
:func:`bootstrap_ci` refuses NaN so the caller decides and reports.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: The paper's significance levels (Tables II, IV): * p < 0.05, ** p < 0.005.
PAPER_LEVELS: tuple[float, float] = (0.05, 0.005)

#: Table VI's (cross-dataset) levels: * p < 0.01, ** p < 0.001.
CROSS_LEVELS: tuple[float, float] = (0.01, 0.001)

#: Most resampled values held in memory at once by :func:`bootstrap_statistic_ci`.
_BOOTSTRAP_BATCH_VALUES = 2_000_000


@dataclass(frozen=True)
class WilcoxonResult:
    """Two-sided paired Wilcoxon signed-rank test of ``x`` vs ``y``.

    ``n`` pairs were used; ``n_dropped`` pairs had a NaN in ``x`` or ``y``. ``p_value`` is NaN
    when no pair remains, and 1.0 when every difference is zero (no evidence of a difference).
    """

    p_value: float
    statistic: float
    n: int
    n_dropped: int


def _paired(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray, int]:
    x_arr = np.asarray(x, dtype=np.float64).reshape(-1)
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    if x_arr.shape != y_arr.shape:
        raise ValueError(f"paired samples differ in length: {x_arr.size} and {y_arr.size}")
    keep = np.isfinite(x_arr) & np.isfinite(y_arr)
    return x_arr[keep], y_arr[keep], int((~keep).sum())


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired samples (``scipy.stats.wilcoxon``).

    Pairs with a NaN (or infinite) member are dropped and counted in ``n_dropped``; zero
    differences follow scipy's default (``zero_method="wilcox"``: discarded).
    """
    x_used, y_used, dropped = _paired(x, y)
    n = int(x_used.size)
    if n == 0:
        return WilcoxonResult(p_value=float("nan"), statistic=float("nan"), n=0, n_dropped=dropped)
    if np.all(x_used == y_used):
        return WilcoxonResult(p_value=1.0, statistic=0.0, n=n, n_dropped=dropped)
    result = stats.wilcoxon(x_used, y_used, alternative="two-sided")
    return WilcoxonResult(
        p_value=float(result.pvalue), statistic=float(result.statistic), n=n, n_dropped=dropped
    )


def significance_marker(p: float, levels: tuple[float, float] = PAPER_LEVELS) -> str:
    """``"**"`` when p < levels[1], ``"*"`` when p < levels[0], else ``""`` (also for NaN)."""
    weak, strong = levels
    if not 0 < strong < weak < 1:
        raise ValueError(f"levels must satisfy 0 < strong < weak < 1; got {levels}")
    if p is None or not np.isfinite(p):
        return ""
    if p < strong:
        return "**"
    if p < weak:
        return "*"
    return ""


def bootstrap_ci(
    values: Sequence[float],
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (``scipy.stats.bootstrap``).

    The percentile method (as in the paper's seaborn-style Fig. 4-7 error bars) stays defined
    when all values are equal. Raises ValueError on NaN values (drop and report them first) or
    fewer than two values; the same ``seed`` gives the same interval.
    """
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive; got {n_resamples}")
    n_nan = int(np.isnan(data).sum())
    if n_nan:
        raise ValueError(f"{n_nan} of {data.size} values are NaN; drop and report them first")
    if data.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values; got {data.size}")
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        batch=max(1, _BOOTSTRAP_BATCH_VALUES // data.size),  # same interval, bounded memory
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def bootstrap_statistic_ci(
    samples: Sequence[Sequence[float]],
    statistic: Callable[..., np.ndarray],
    paired: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of any statistic (``scipy.stats.bootstrap``).

    ``statistic(*samples, axis=-1)`` must be vectorised along ``axis`` (see :func:`pearson_r`,
    :func:`mean_difference`, :func:`loa_half_width`). With ``paired`` the samples are resampled
    together (one index draw per pair), as a correlation or a bias between reference and
    prediction requires. NaN values are refused, as in :func:`bootstrap_ci`; the interval is NaN
    when some resamples leave the statistic undefined (e.g. a constant resample for a
    correlation). The same ``seed`` gives the same interval.
    """
    data = [np.asarray(s, dtype=np.float64).reshape(-1) for s in samples]
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive; got {n_resamples}")
    if paired and len({d.size for d in data}) > 1:
        raise ValueError(f"paired samples differ in length: {[d.size for d in data]}")
    for d in data:
        if np.isnan(d).any():
            raise ValueError(
                f"{int(np.isnan(d).sum())} of {d.size} values are NaN; drop them first"
            )
        if d.size < 2:
            raise ValueError(f"a bootstrap interval needs at least 2 values; got {d.size}")
    batch = max(1, _BOOTSTRAP_BATCH_VALUES // max(d.size for d in data))
    # Degenerate resamples are reported through a NaN interval, not a warning.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            tuple(data),
            statistic,
            n_resamples=n_resamples,
            batch=batch,
            vectorized=True,
            paired=paired,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def pearson_r(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson correlation along ``axis`` (NaN where either sample is constant)."""
    x_c = x - x.mean(axis=axis, keepdims=True)
    y_c = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x_c * y_c).sum(axis=axis) / np.sqrt(
            (x_c**2).sum(axis=axis) * (y_c**2).sum(axis=axis)
        )


def mean_difference(reference: np.ndarray, prediction: np.ndarray, axis: int = -1) -> np.ndarray:
    """Bias of :func:`agreement` along ``axis``: mean of ``prediction - reference``."""
    return (prediction - reference).mean(axis=axis)


def loa_half_width(reference: np.ndarray, prediction: np.ndarray, axis: int = -1) -> np.ndarray:
    """Limits-of-agreement half width of :func:`agreement` along ``axis``: 1.96 x SD (ddof 1)."""
    return 1.96 * (prediction - reference).std(axis=axis, ddof=1)


def agreement(reference: Sequence[float], prediction: Sequence[float]) -> dict[str, float | int]:
    """Correlation, bias and limits of agreement of a clinical index (paper II.G.3-4).

    Differences are ``prediction - reference`` (positive bias = automatic overestimates).
    Returns ``n`` (pairs used), ``n_dropped`` (pairs with NaN), ``pearson_r``, ``pearson_p``,
    ``bias`` (mean difference), ``loa_half_width`` (1.96 x sample SD of the differences, the
    paper's "LOA" in brackets), ``loa_low`` and ``loa_high`` (bias -/+ half width).
    """
    ref, pred, dropped = _paired(reference, prediction)
    n = int(ref.size)
    nan = float("nan")
    out: dict[str, float | int] = {"n": n, "n_dropped": dropped}
    if n >= 2 and np.ptp(ref) > 0 and np.ptp(pred) > 0:
        result = stats.pearsonr(ref, pred)
        out["pearson_r"], out["pearson_p"] = float(result.statistic), float(result.pvalue)
    else:  # correlation is undefined for fewer than two pairs or a constant sample
        out["pearson_r"], out["pearson_p"] = nan, nan
    differences = pred - ref
    bias = float(differences.mean()) if n else nan
    half_width = 1.96 * float(differences.std(ddof=1)) if n >= 2 else nan
    out.update(
        bias=bias,
        loa_half_width=half_width,
        loa_low=bias - half_width,
        loa_high=bias + half_width,
    )
    return out
