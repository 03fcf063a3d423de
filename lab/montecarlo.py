"""Monte Carlo robustness of a sequence of trade returns: reshuffled and resampled histories.

Trades compound multiplicatively (each return is a fraction of the equity at entry, 0.012 for
+1.2 %). Reordering them leaves the final return unchanged, so shuffling shows how deep the
drawdown could have been with the same trades in another order; a bootstrap (drawing the same
number of trades with replacement) varies the final return too. Drawdowns are measured at the
trade closes, so the dip inside a trade is not seen. Every run is drawn at once as a matrix.
"""

from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext_noop

from trading.performance import drawdown_series

from .overfitting import NotApplicable

DEFAULT_RUNS = 1000
MAX_RUNS = 100_000
MIN_TRADES = 10  # fewer: the percentiles repeat a handful of trades back
PERCENTILES = (5, 50, 95)

# Stored with a study's report in English; the page translates them (lab.wording).
SHUFFLE_EXPLAINED = gettext_noop(
    "Shuffled order: the same trades in 1,000 random orders; the drawdown band shows how deep the "
    "losses could have run with the same luck arriving in another order."
)
BOOTSTRAP_EXPLAINED = gettext_noop(
    "Bootstrap: 1,000 histories drawn from the same trades with replacement; a 5th percentile "
    "final return below zero means the result leans on a few lucky trades."
)


@dataclass(frozen=True)
class Bands:
    """5th, 50th and 95th percentile of a figure over the runs (percent)."""

    p5: float
    p50: float
    p95: float


@dataclass(frozen=True)
class Simulation:
    method: str  # "shuffle" or "bootstrap"
    final_return_pct: Bands
    max_drawdown_pct: Bands  # positive: 12.5 means the equity fell 12.5 % below its peak
    equity_bands: np.ndarray  # 3 x (trades + 1): the 5/50/95th percentile equity, starting at 1


@dataclass(frozen=True)
class MonteCarloResult:
    trades: int
    runs: int
    seed: int
    final_return_pct: float  # the actual order
    max_drawdown_pct: float
    equity: np.ndarray  # the actual equity after each trade, starting at 1
    shuffle: Simulation
    bootstrap: Simulation


def _check(trade_returns, runs: int, min_trades: int) -> np.ndarray:
    r = np.asarray(trade_returns, dtype=np.float64).ravel()
    if len(r) < min_trades:
        raise NotApplicable(f"only {len(r)} trades (Monte Carlo needs at least {min_trades})")
    if not np.isfinite(r).all():
        raise ValueError("a trade return is missing or infinite")
    if (r <= -1).any():
        raise ValueError("a trade return of -100 % or less: returns are fractions (0.012 for +1.2 %)")
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs must be from 1 to {MAX_RUNS:,}, not {runs}")
    return r


def equity_paths(returns: np.ndarray) -> np.ndarray:
    """Equity after each trade, starting at 1, with time on axis 0 (trades + 1 rows)."""
    growth = np.cumprod(1 + returns, axis=0)
    return np.concatenate([np.ones((1, *returns.shape[1:])), growth], axis=0)


def _max_drawdown_pct(equity: np.ndarray) -> np.ndarray:
    return -drawdown_series(equity).min(axis=0)


def _simulate(method: str, samples: np.ndarray) -> Simulation:
    """Bands over the runs of `samples` (trades x runs)."""
    equity = equity_paths(samples)
    final = (equity[-1] - 1) * 100
    drawdown = _max_drawdown_pct(equity)
    return Simulation(
        method=method,
        final_return_pct=Bands(*np.percentile(final, PERCENTILES).tolist()),
        max_drawdown_pct=Bands(*np.percentile(drawdown, PERCENTILES).tolist()),
        equity_bands=np.percentile(equity, PERCENTILES, axis=1),
    )


def monte_carlo(
    trade_returns, runs: int = DEFAULT_RUNS, seed: int = 0, min_trades: int = MIN_TRADES
) -> MonteCarloResult:
    """Shuffle and bootstrap `trade_returns` (fractions, in the order they closed) `runs` times.

    Raises NotApplicable ("n/a: only N trades") below `min_trades`."""
    r = _check(trade_returns, runs, min_trades)
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.broadcast_to(r[:, None], (len(r), runs)), axis=0)
    resampled = r[rng.integers(0, len(r), size=(len(r), runs))]
    actual = equity_paths(r)
    return MonteCarloResult(
        trades=len(r),
        runs=runs,
        seed=seed,
        final_return_pct=float((actual[-1] - 1) * 100),
        max_drawdown_pct=float(_max_drawdown_pct(actual)),
        equity=actual,
        shuffle=_simulate("shuffle", shuffled),
        bootstrap=_simulate("bootstrap", resampled),
    )
