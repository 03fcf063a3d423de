"""Lab statistics speed: PBO (CSCV, 16 blocks), DSR, Monte Carlo, and the look-ahead check.

    .venv/bin/python bench/bench_lab_stats.py [--runs 3]

Sizes are a large study: 200 trials x a year of daily returns and x 90 days of hourly returns;
1,000 Monte Carlo runs of 500 trades; the look-ahead and warm-up checks of the default strategy
on 30 days of synthetic minutes (plus the regime's 240-hour warm-up, as the command loads).
Prints the median wall time, the CPU time and the load average.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")

import django  # noqa: E402

django.setup()

from synthetic import synthetic_frame  # noqa: E402

from lab.lookahead import check_strategy  # noqa: E402
from lab.montecarlo import monte_carlo  # noqa: E402
from lab.overfitting import deflated_sharpe_ratio, probability_of_backtest_overfitting  # noqa: E402
from trading.config import default_strategy  # noqa: E402
from trading.strategy import bars_from_frame  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `runs` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return sorted(walls)[runs // 2], sorted(cpus)[runs // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    daily, hourly = rng.normal(0, 0.01, (365, 200)), rng.normal(0, 0.002, (90 * 24, 200))
    sharpes = daily.mean(axis=0) / daily.std(axis=0, ddof=1)
    trades = rng.normal(0.001, 0.02, 500)
    bars = bars_from_frame(synthetic_frame(40 * 1440, seed=1))
    params = default_strategy()
    cases = [
        (
            "PBO, 200 trials x 365 daily returns, 16 blocks",
            lambda: probability_of_backtest_overfitting(daily),
        ),
        (
            "PBO, 200 trials x 2,160 hourly returns, 16 blocks",
            lambda: probability_of_backtest_overfitting(hourly),
        ),
        ("DSR, 200 trials", lambda: deflated_sharpe_ratio(daily[:, 0], sharpes)),
        ("Monte Carlo, 500 trades x 1,000 runs", lambda: monte_carlo(trades)),
        ("look-ahead + warm-up check, 57,600 bars", lambda: check_strategy(bars, params)),
    ]
    for name, fn in cases:
        wall, cpu = timed(fn, args.runs)
        load = os.getloadavg()
        print(f"{name:<52} {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU   load {load[0]:.2f}")


if __name__ == "__main__":
    main()
