"""stats: the interquartile mean by hand, the bootstrap against a naive loop, the intervals' claims."""

from __future__ import annotations

import importlib.util

import matplotlib
import numpy as np
import pytest

from dqn_helpers import stats

matplotlib.use("Agg")


def test_iqm_by_hand():
    assert stats.iqm([1, 2, 3, 4]) == pytest.approx(2.5)  # the middle two
    assert stats.iqm([4, 1, 100, 2, 3, 3, 2, -50]) == pytest.approx(2.5)  # the ends are cut
    # three values: [0.75, 2.25) of [0, 3) keeps a quarter of the first and last, all of the middle
    assert stats.iqm([0.0, 10.0, 20.0]) == pytest.approx((0.25 * 0 + 10 + 0.25 * 20) / 1.5)
    assert stats.iqm([7.0]) == 7.0
    with pytest.raises(ValueError, match="at least one"):
        stats.iqm([])


def test_iqm_matches_a_trimmed_mean_when_the_quarters_are_whole():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    s = np.sort(x)
    assert stats.iqm(x) == pytest.approx(np.mean(s[10:30]))


def _naive_percentile_bootstrap(x, fn, confidence, n, seed):
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(x), size=(n, len(x)))
    values = [fn(x[d]) for d in draws]
    tail = (1 - confidence) / 2
    return np.quantile(values, [tail, 1 - tail])


@pytest.mark.parametrize("statistic,fn", [("mean", np.mean), ("iqm", stats.iqm)])
def test_numpy_bootstrap_matches_a_naive_loop(statistic, fn):
    x = np.array([12.0, 480.0, 500.0, 210.0, 95.0])
    ci = stats.bootstrap_ci(x, statistic, n_resamples=2_000, seed=3, use_scipy=False)
    low, high = _naive_percentile_bootstrap(x, fn, 0.95, 2_000, 3)
    assert (ci.low, ci.high) == pytest.approx((low, high))
    assert ci.estimate == pytest.approx(fn(x)) and ci.n == 5 and ci.statistic == statistic
    assert x.min() <= ci.low < ci.estimate < ci.high <= x.max()


def test_intervals_are_seeded_and_narrow_with_more_seeds():
    rng = np.random.default_rng(1)
    few, many = rng.normal(10, 3, size=5), rng.normal(10, 3, size=200)
    a = stats.bootstrap_ci(few, use_scipy=False)
    assert a == stats.bootstrap_ci(few, use_scipy=False)  # the same seed, the same interval
    b = stats.bootstrap_ci(many, use_scipy=False)
    assert b.high - b.low < (a.high - a.low) / 3
    assert b.low < 10 < b.high  # the true mean, well inside with 200 draws
    wide = stats.bootstrap_ci(few, confidence=0.99, use_scipy=False)
    assert wide.low <= a.low and wide.high >= a.high


def test_the_claims_an_interval_supports():
    ci = stats.bootstrap_ci([480.0, 495.0, 500.0], use_scipy=False)
    assert ci.above(475) and not ci.above(490) and ci.below(501) and not ci.below(490)
    text = str(ci)
    assert "mean 491.7" in text and "95% CI" in text and "over 3 seeds" in text


def test_one_value_and_equal_values_give_a_zero_width_interval():
    one = stats.bootstrap_ci([3.0])
    same = stats.bootstrap_ci([2.0, 2.0, 2.0], "iqm")
    assert (one.low, one.high, one.n) == (3.0, 3.0, 1) and (same.low, same.high) == (2.0, 2.0)


def test_difference_ci_resamples_each_arm_on_its_own():
    broken, fixed = [10.0, 30.0, 20.0], [480.0, 500.0, 490.0]
    d = stats.difference_ci(fixed, broken, n_resamples=5_000, use_scipy=False)
    assert d.estimate == pytest.approx(490 - 20) and d.above(0) and d.statistic == "Δ mean"
    # the extremes: best of fixed minus worst of broken, and the reverse
    assert 480 - 30 <= d.low < d.estimate < d.high <= 500 - 10
    overlap = stats.difference_ci([1.0, 5.0, 9.0], [2.0, 6.0, 8.0], use_scipy=False)
    assert not overlap.above(0) and not overlap.below(0)  # the seeds support no ordering


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(values=[]), "empty"),
        (dict(values=[1.0, float("nan")]), "NaN"),
        (dict(values=[1.0, 2.0], statistic="median"), "statistic must be"),
        (dict(values=[1.0, 2.0], confidence=95), "confidence"),
        (dict(values=[1.0, 2.0], n_resamples=10), "n_resamples"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.bootstrap_ci(**kwargs)


def test_a_function_as_the_statistic():
    ci = stats.bootstrap_ci([1.0, 2.0, 3.0, 10.0], np.median, use_scipy=False)
    assert ci.statistic == "median" and ci.estimate == 2.5 and ci.low >= 1.0 and ci.high <= 10.0


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="SciPy is not installed")
def test_scipy_and_numpy_agree_on_the_percentile_interval():
    x = np.random.default_rng(2).normal(5, 2, size=30)
    a = stats.bootstrap_ci(x, use_scipy=True)
    b = stats.bootstrap_ci(x, use_scipy=False)
    assert a.low == pytest.approx(b.low, abs=0.15) and a.high == pytest.approx(b.high, abs=0.15)


def test_plot_intervals_draws_one_row_per_arm():
    intervals = {
        "broken": stats.bootstrap_ci([10.0, 30.0, 20.0]),
        "fixed": stats.bootstrap_ci([480.0, 500.0, 490.0]),
    }
    ax = stats.plot_intervals(intervals, reference=475, title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["broken", "fixed"]
    bar = ax.lines[2].get_xdata()  # the second arm's interval
    assert (min(bar), max(bar)) == pytest.approx((intervals["fixed"].low, intervals["fixed"].high))
    assert ax.get_title() == "t" and "95%" in ax.get_xlabel()
    with pytest.raises(ValueError, match="at least one"):
        stats.plot_intervals({})
