"""Indicator speed: 200 bars x 100 symbols (target <= 100 ms in total).

    .venv/bin/python bench/bench_indicators.py [--runs 20]

Three ways: (a) one 2-D batch (bars x symbols) of every indicator; (b) the strategy's
`compute_indicators` per symbol on 200 bars; (c) the same on the live window (1000 bars).
Then a backtest's year of minutes: (d) `compute_indicators` on 525,600 bars (SIDEWAYS' lookbacks
and the default strategy's others), beside (e) TA-Lib's C code (the tests' oracle, a dev
dependency) for the indicators it has: Bollinger(20, 2), RSI(14), RSI(7), SMA(volume, 20). The
gap is what compiled indicators could save a backtest (issue #18, docs/decisions.md).
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

from market import indicators as ind  # noqa: E402
from trading.config import default_strategy  # noqa: E402
from trading.strategy import LIVE_WINDOW_BARS, bars_from_frame, compute_indicators  # noqa: E402

SYMBOLS = 100


def batch(o, h, lo, c, v) -> None:
    ind.rsi(c, 14), ind.rsi(c, 7), ind.sma(c, 20), ind.bollinger(c), ind.volume_ratio(v), ind.atr(h, lo, c)
    lower = ind.bollinger(c)[2]
    ind.rsi_short_min_lookback(ind.rsi(c, 7), 10), ind.bb_touch_recovery(lo, c, lower, 30)


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    params = default_strategy()
    per_symbol = [bars_from_frame(synthetic_frame(LIVE_WINDOW_BARS, seed=s)) for s in range(SYMBOLS)]
    short = [b.tail(200) for b in per_symbol]
    cols = {
        k: np.column_stack([getattr(b, k) for b in short]) for k in ("open", "high", "low", "close", "volume")
    }
    a = timed(lambda: batch(*cols.values()), args.runs)
    b = timed(lambda: [compute_indicators(x, params) for x in short], args.runs)
    c = timed(lambda: [compute_indicators(x, params) for x in per_symbol], args.runs)
    print(f"(a) 2-D batch, 200 bars x {SYMBOLS} symbols, all indicators: {a * 1000:.1f} ms")
    print(f"(b) compute_indicators per symbol, 200 bars x {SYMBOLS}:        {b * 1000:.1f} ms")
    print(f"(c) compute_indicators per symbol, {LIVE_WINDOW_BARS} bars x {SYMBOLS}:       {c * 1000:.1f} ms")
    year, year_runs = bars_from_frame(synthetic_frame(525_600, seed=7)), max(3, args.runs // 4)
    d = timed(lambda: compute_indicators(year, params, atr=False), year_runs)
    print(f"{f'(d) compute_indicators, 1 symbol, {len(year):,} bars:':<58}{d * 1000:.1f} ms")
    try:
        import talib
    except ImportError:
        print("(e) TA-Lib is not installed (requirements-dev.txt has it)")
    else:

        def talib_year() -> None:
            talib.BBANDS(year.close, 20, 2, 2), talib.RSI(year.close, 14), talib.RSI(year.close, 7)
            talib.SMA(year.volume, 20)

        e = timed(talib_year, year_runs)
        print(f"{'(e) TA-Lib, same bars: BBANDS, 2 x RSI, SMA(volume):':<58}{e * 1000:.1f} ms")
    print(f"medians of {args.runs} runs ((d), (e): {year_runs})")


if __name__ == "__main__":
    main()
