"""Backtest speed: one year of seeded 1m candles (525,600 bars), full strategy, risk limits, fees.

    .venv/bin/python bench/bench_backtest.py [--bars 525600] [--runs 7]

Prints the median and best wall time of `run_backtest` (indicators, hourly regime, entries,
exits, fills, risk rules, statistics) and bars/second. Data generation is not timed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")

import django  # noqa: E402

django.setup()

from synthetic import synthetic_frame  # noqa: E402

from trading.backtest import BacktestOptions, run_backtest  # noqa: E402
from trading.config import default_risk, default_strategy  # noqa: E402
from trading.strategy import bars_from_frame  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bars = bars_from_frame(synthetic_frame(args.bars, seed=args.seed))
    params, risk = default_strategy(), default_risk()
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = run_backtest("KRW-BTC", bars, params, risk, BacktestOptions())
        times.append(time.perf_counter() - started)
    times.sort()
    median, best = times[len(times) // 2], times[0]
    s = result.stats
    print(f"bars: {len(bars):,}  trades: {s['trades']}  refusals: {s['blocked_by_risk']}")
    print(f"return {s['total_return_pct']:.2f} %  max drawdown {s['max_drawdown_pct']:.2f} %")
    print(f"median {median:.3f} s ({len(bars) / median:,.0f} bars/s)  best {best:.3f} s "
          f"({len(bars) / best:,.0f} bars/s)  over {args.runs} runs")  # fmt: skip


if __name__ == "__main__":
    main()
