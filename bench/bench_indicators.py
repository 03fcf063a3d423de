"""Indicator speed: 200 bars x 100 symbols (target <= 100 ms in total).

    .venv/bin/python bench/bench_indicators.py [--runs 20]

Three ways: (a) one 2-D batch (bars x symbols) of every indicator; (b) the strategy's
`compute_indicators` per symbol on 200 bars; (c) the same on the live window (1000 bars).
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
    print(f"medians of {args.runs} runs")


if __name__ == "__main__":
    main()
