"""PBO (CSCV) and the Deflated Sharpe Ratio against the DSR paper's worked example, independent
computations (a direct loop over the splits, Monte Carlo) and two synthetic cases: pure noise
and a planted edge."""

import math
from itertools import combinations

import numpy as np
import pytest
from scipy.stats import rankdata

from lab.overfitting import (
    NotApplicable,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)

DAYS = 250  # the DSR paper's trading days per year


def noise(seed: int, periods: int = 600, trials: int = 30) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.01, (periods, trials))


def with_edge(seed: int, periods: int = 1000, trials: int = 30) -> np.ndarray:
    """Noise, except two trials that earn 0.2 and 0.15 standard deviations per period."""
    m = noise(seed, periods, trials)
    m[:, 3] += 0.002
    m[:, 11] += 0.0015
    return m


def per_period_sharpes(m: np.ndarray) -> np.ndarray:
    return m.mean(axis=0) / m.std(axis=0, ddof=1)


def pbo_by_loop(m: np.ndarray, blocks: int) -> float:
    """CSCV written out split by split, as the paper lists its steps (first tied best taken)."""
    parts = np.array_split(m, blocks)
    below = 0
    halves = list(combinations(range(blocks), blocks // 2))
    for half in halves:
        train = np.vstack([parts[b] for b in half])
        test = np.vstack([parts[b] for b in range(blocks) if b not in half])
        best = int(np.argmax(per_period_sharpes(train)))
        rank = rankdata(per_period_sharpes(test))[best]
        omega = rank / (m.shape[1] + 1)
        below += math.log(omega / (1 - omega)) <= 0
    return below / len(halves)


def test_dsr_reproduces_the_papers_numerical_example():
    """Bailey & López de Prado (2014): 100 trials, the best at an annualised Sharpe of 2.5 over
    5 years of daily returns (T = 1,250), the trials' annualised Sharpe ratios with variance 1/2,
    skewness -3, kurtosis 10: E[max SR] = 0.1132 per day and DSR = 0.9004."""
    benchmark = expected_max_sharpe(100, 0.5 / DAYS)
    assert benchmark == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(DAYS), benchmark, 1250, -3, 10)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_is_close_to_the_simulated_maximum_of_useless_trials():
    rng = np.random.default_rng(1)
    for trials, variance in ((10, 0.004), (100, 0.002), (1000, 0.0001)):
        simulated = rng.normal(0, math.sqrt(variance), (2000, trials)).max(axis=1).mean()
        assert expected_max_sharpe(trials, variance) == pytest.approx(simulated, rel=0.03)


def test_psr_of_a_useless_strategy_is_significant_about_one_time_in_twenty():
    """PSR(0) is a p-value: on returns with a true Sharpe of 0 it passes 0.95 about 5 % of the
    time, fat tails included (Student t returns)."""
    rng = np.random.default_rng(2)
    samples = rng.standard_t(5, (2000, 500))
    passed = []
    for r in samples:
        skewness, kurtosis = moments(r)
        passed.append(probabilistic_sharpe_ratio(sharpe_ratio(r), 0.0, len(r), skewness, kurtosis) >= 0.95)
    assert 0.03 <= np.mean(passed) <= 0.07


def test_normal_returns_have_skewness_zero_and_kurtosis_three():
    skewness, kurtosis = moments(np.random.default_rng(3).normal(0, 1, 200_000))
    assert skewness == pytest.approx(0, abs=0.02)
    assert kurtosis == pytest.approx(3, abs=0.05)


def test_pbo_equals_the_split_by_split_computation():
    m = noise(4, periods=120, trials=7)
    for blocks in (4, 8, 10):
        assert probability_of_backtest_overfitting(m, blocks).pbo == pytest.approx(pbo_by_loop(m, blocks))


def test_pbo_of_pure_noise_is_about_one_half():
    """Useless trials: the in-sample best's out-of-sample rank is uniform, so PBO is 0.5 on
    average; one matrix varies a lot around that (0.2 to 0.7), hence the 200 seeds."""
    results = [probability_of_backtest_overfitting(noise(seed, 240, 20), blocks=8) for seed in range(200)]
    assert 0.46 <= np.mean([r.pbo for r in results]) <= 0.54
    assert all(r.logits.shape == (70,) for r in results)  # C(8, 4) splits


def test_dsr_of_the_best_of_pure_noise_is_not_significant():
    for seed in range(8):
        m = noise(seed)
        sharpes = per_period_sharpes(m)
        result = deflated_sharpe_ratio(m[:, int(np.argmax(sharpes))], sharpes)
        assert not result.significant
        assert result.sharpe > 0  # the best of 30 looks good, yet is not


def test_a_planted_edge_gives_a_low_pbo_and_a_significant_dsr():
    for seed in range(3):
        m = with_edge(seed)
        result = probability_of_backtest_overfitting(m)  # 16 blocks, 12,870 splits
        assert result.pbo < 0.1
        assert result.probability_of_loss < 0.1
        sharpes = per_period_sharpes(m)
        dsr = deflated_sharpe_ratio(m[:, int(np.argmax(sharpes))], sharpes)
        assert dsr.significant
        assert dsr.sharpe > dsr.expected_max_sharpe


def test_more_trials_deflate_the_same_sharpe_more():
    m = with_edge(0)
    sharpes = per_period_sharpes(m)
    few = deflated_sharpe_ratio(m[:, 3], sharpes)
    many = deflated_sharpe_ratio(m[:, 3], sharpes, trials=10_000)
    assert many.expected_max_sharpe > few.expected_max_sharpe
    assert many.dsr < few.dsr


def test_the_degradation_pairs_and_histogram_describe_every_split():
    result = probability_of_backtest_overfitting(noise(5), blocks=8)
    assert len(result.in_sample) == len(result.out_of_sample) == len(result.logits) == 70
    assert (result.in_sample >= result.out_of_sample).mean() > 0.5  # the chosen one looks worse later
    assert result.degradation_slope is not None
    counts, edges = result.logit_histogram(bins=10)
    assert sum(counts) == 70
    assert len(edges) == 11


def test_trials_that_never_trade_and_identical_trials_do_not_break_the_ranking():
    m = noise(6, periods=200, trials=6)
    m[:, 0] = 0.0  # never traded
    m[:, 1] = m[:, 2]  # two identical configurations
    m[:, 4] = 0.001  # a constant gain every period: the best possible, in and out of sample
    result = probability_of_backtest_overfitting(m, blocks=8)
    assert result.pbo == 0.0
    assert np.isfinite(result.logits).all()


def test_halves_without_a_trade_tie_exactly_at_zero():
    m = noise(8, periods=80, trials=3)
    m[40:, :2] = 0.0  # trials 0 and 1 stop trading half-way; trial 2 does well then
    m[40:, 2] += 0.02
    assert int(np.argmax(per_period_sharpes(m[:40]))) == 0  # the first half's best
    result = probability_of_backtest_overfitting(m, blocks=4)  # split 1: blocks 0-1 in, 2-3 out
    assert result.out_of_sample[0] == 0.0
    assert result.logits[0] == pytest.approx(math.log(1.5 / 4 / (1 - 1.5 / 4)))  # rank 1.5 of 3


def test_all_identical_trials_rank_at_the_median():
    column = np.random.default_rng(7).normal(0, 0.01, 64)
    result = probability_of_backtest_overfitting(np.column_stack([column] * 4), blocks=4)
    assert np.allclose(result.logits, 0.0)  # no information: counted as overfit (lambda <= 0)
    assert result.pbo == 1.0


def test_a_custom_metric_is_used_for_the_ranking():
    m = with_edge(1, periods=320)
    result = probability_of_backtest_overfitting(m, blocks=8, metric=lambda part: part.sum(axis=0))
    assert result.pbo < 0.2
    assert result.in_sample.max() > 0.1  # sums, not Sharpe ratios


@pytest.mark.parametrize(
    ("shape", "blocks", "message"),
    [
        ((10, 5), 16, "n/a: only 10 periods for 16 blocks"),
        ((100, 1), 16, "n/a: only 1 trial"),
        ((3, 4), 2, "n/a: only 3 periods: each half needs at least 2"),
    ],
)
def test_pbo_refuses_too_little_input_with_a_reason(shape, blocks, message):
    with pytest.raises(NotApplicable, match=message):
        probability_of_backtest_overfitting(np.zeros(shape), blocks)


def test_pbo_refuses_odd_blocks_and_missing_values():
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(noise(0), blocks=7)
    m = noise(0)
    m[3, 2] = np.nan
    with pytest.raises(ValueError, match="missing"):
        probability_of_backtest_overfitting(m)


def test_dsr_refuses_returns_that_never_vary():
    with pytest.raises(NotApplicable, match="never vary"):
        deflated_sharpe_ratio(np.full(50, 0.001), np.array([0.1, 0.2]))
    with pytest.raises(NotApplicable, match="only 1 period"):
        deflated_sharpe_ratio(np.array([0.01]), np.array([0.1, 0.2]))
