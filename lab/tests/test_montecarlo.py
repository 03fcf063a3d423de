"""Monte Carlo of trade returns: shuffled orders keep the final return and vary the drawdown; the
bootstrap varies both; everything is seeded and refused below a minimum number of trades."""

import numpy as np
import pytest

from lab.montecarlo import MIN_TRADES, equity_paths, monte_carlo
from lab.overfitting import NotApplicable
from trading.performance import max_drawdown_pct

LOSSES_THEN_GAINS = [-0.02] * 10 + [0.03] * 10  # the worst order: every loss before any gain


def test_shuffling_keeps_the_final_return_and_spreads_the_drawdown():
    result = monte_carlo(LOSSES_THEN_GAINS, runs=2000, seed=1)
    final = (0.98**10 * 1.03**10 - 1) * 100
    assert result.final_return_pct == pytest.approx(final)
    bands = result.shuffle.final_return_pct
    assert bands.p5 == pytest.approx(final) and bands.p95 == pytest.approx(final)
    worst = (1 - 0.98**10) * 100
    assert result.max_drawdown_pct == pytest.approx(worst)
    drawdown = result.shuffle.max_drawdown_pct
    assert drawdown.p5 < drawdown.p50 < drawdown.p95 <= worst


def test_the_bootstrap_spreads_the_final_return_around_the_actual_one():
    returns = np.random.default_rng(2).normal(0.003, 0.02, 200)
    result = monte_carlo(returns, seed=3)
    bands = result.bootstrap.final_return_pct
    assert bands.p5 < result.final_return_pct < bands.p95
    assert bands.p5 < bands.p50 < bands.p95
    assert result.bootstrap.max_drawdown_pct.p95 > result.bootstrap.max_drawdown_pct.p5 > 0


def test_the_bootstrap_mean_growth_matches_its_expectation():
    """Trades drawn independently: E[prod(1 + r)] = (1 + mean r)^n, an independent check."""
    returns = np.random.default_rng(4).normal(0.001, 0.01, 50)
    result = monte_carlo(returns, runs=20_000, seed=5)
    expected = ((1 + returns.mean()) ** 50 - 1) * 100
    assert result.bootstrap.final_return_pct.p50 == pytest.approx(expected, abs=1.0)


def test_the_drawdown_is_the_backtest_reports_drawdown_of_the_trade_equity():
    returns = np.random.default_rng(6).normal(0, 0.02, 40)
    result = monte_carlo(returns, runs=10)
    assert result.max_drawdown_pct == pytest.approx(max_drawdown_pct(equity_paths(returns)))


def test_equity_bands_start_at_one_and_are_ordered():
    result = monte_carlo(np.random.default_rng(7).normal(0.002, 0.02, 30), runs=500)
    for simulation in (result.shuffle, result.bootstrap):
        assert simulation.equity_bands.shape == (3, 31)
        assert np.allclose(simulation.equity_bands[:, 0], 1.0)
        assert (np.diff(simulation.equity_bands, axis=0) >= 0).all()  # 5th <= 50th <= 95th
    assert np.allclose(result.shuffle.equity_bands[:, -1], result.equity[-1])


def test_winning_trades_only_never_draw_down():
    result = monte_carlo([0.01] * 12, runs=100)
    assert result.shuffle.max_drawdown_pct.p95 == 0
    assert result.bootstrap.max_drawdown_pct.p95 == 0


def test_the_same_seed_gives_the_same_bands_and_another_seed_others():
    returns = np.random.default_rng(8).normal(0.001, 0.02, 60)
    first, again, other = (
        monte_carlo(returns, seed=9),
        monte_carlo(returns, seed=9),
        monte_carlo(returns, seed=10),
    )
    assert np.array_equal(first.bootstrap.equity_bands, again.bootstrap.equity_bands)
    assert first.shuffle.max_drawdown_pct == again.shuffle.max_drawdown_pct
    assert first.bootstrap.final_return_pct == again.bootstrap.final_return_pct
    assert first.bootstrap.final_return_pct != other.bootstrap.final_return_pct


def test_too_few_trades_is_not_applicable():
    with pytest.raises(
        NotApplicable, match=f"n/a: only 4 trades \\(Monte Carlo needs at least {MIN_TRADES}\\)"
    ):
        monte_carlo([0.01, -0.02, 0.03, 0.0])


@pytest.mark.parametrize(
    ("returns", "runs", "message"),
    [
        ([0.01] * 9 + [-1.0], 100, "-100 % or less"),
        ([0.01] * 9 + [float("nan")], 100, "missing"),
        ([0.01] * 10, 0, "runs must be from 1"),
    ],
)
def test_bad_input_is_refused(returns, runs, message):
    with pytest.raises(ValueError, match=message):
        monte_carlo(returns, runs=runs)
