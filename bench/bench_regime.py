"""Regime speed: the hourly job for 100 symbols (target < 2 s), and the backtest's per-bar pass.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python bench/bench_regime.py [--keep]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_h5 .venv/bin/python bench/bench_regime.py

Without DATABASE_URL it uses a fresh temporary SQLite file. --keep leaves the candles in place
for the next run (the insert takes minutes); --fresh re-inserts them.

Stores 240 hours of 1m candles for 100 symbols through `store_candles` (1.44 M rows; not timed,
removed afterwards), which on PostgreSQL also fills the 1h rollup as in production, then times
`update_regimes` (hourly closes: the 1h rollup on PostgreSQL, one aggregation of the minutes on
SQLite; MA50/MA200, Redis keys, 100 RegimeHistory rows) and `regime_codes_per_bar` over one year
of 1m bars. Prints wall and CPU (this process) time and the load average.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from market import rollups  # noqa: E402
from market.candles import CandleRow, store_candles  # noqa: E402
from market.models import Candle, CandleRollup, RegimeHistory  # noqa: E402
from market.regime import (  # noqa: E402
    LOOKBACK_HOURS,
    _minute_hourly_closes,
    regime_codes_per_bar,
    update_regimes,
)

SYMBOLS = [f"KRW-BENCH{i:03d}" for i in range(100)]
NOW = datetime(2026, 6, 1, 0, 0, 30, tzinfo=UTC)


def store(symbols: list[str]) -> None:
    minutes = LOOKBACK_HOURS * 60
    start = NOW.replace(second=0) - timedelta(minutes=minutes)
    stamps = [start + timedelta(minutes=i) for i in range(minutes)]
    for n, symbol in enumerate(symbols):
        rng = np.random.default_rng(n)
        closes = 1e6 * np.exp(
            np.cumsum(rng.normal(0, 1e-3, minutes)) + np.linspace(0, 0.05 * (n % 5 - 2), minutes)
        )
        prices = [Decimal(f"{c:.2f}") for c in closes]
        pairs = zip(stamps, prices, strict=True)
        store_candles([CandleRow(symbol, "1m", t, p, p, p, p, Decimal(1), None) for t, p in pairs])


def main() -> None:
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    stored = Candle.objects.filter(symbol__in=SYMBOLS).count()
    if stored != len(SYMBOLS) * LOOKBACK_HOURS * 60 or "--fresh" in sys.argv:
        Candle.objects.filter(symbol__in=SYMBOLS).delete()
        rollups.delete(SYMBOLS)
        started = time.perf_counter()
        store(SYMBOLS)
        print(
            f"stored {len(SYMBOLS) * LOOKBACK_HOURS * 60:,} candles in {time.perf_counter() - started:.0f} s"
        )
    elif rollups.enabled() and CandleRollup.objects.filter(symbol__in=SYMBOLS, bar="1h").count() < len(
        SYMBOLS
    ) * (LOOKBACK_HOURS - 1):
        rollups.rebuild(SYMBOLS)  # candles kept from a run that stored them without the rollup
        print("rebuilt the rollup of the kept candles")
    try:
        times, cpu = [], []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            readings = update_regimes(SYMBOLS, NOW)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        counts = {r: sum(x.regime == r for x in readings) for r in ("BULL", "SIDEWAYS", "BEAR", "UNKNOWN")}
        median, best = sorted(times)[2], min(times)
        print(
            f"update_regimes, {len(SYMBOLS)} symbols: median {median:.3f} s, best {best:.3f} s, "
            f"CPU median {sorted(cpu)[2]:.3f} s; load average {os.getloadavg()[0]:.2f}; {counts}"
        )
        if rollups.enabled():  # the same closes the way they were read before the rollup (issue 18)
            end = NOW.replace(minute=0, second=0)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                _minute_hourly_closes(SYMBOLS, end - timedelta(hours=LOOKBACK_HOURS), end)
                times.append(time.perf_counter() - started)
            print(f"  hourly closes probed from the 1m candles instead: median {sorted(times)[2]:.3f} s")
    finally:
        RegimeHistory.objects.filter(coin_symbol__in=SYMBOLS).delete()
        if "--keep" not in sys.argv:
            Candle.objects.filter(symbol__in=SYMBOLS).delete()
            rollups.delete(SYMBOLS)
    ts = 1_700_000_000 // 60 * 60 + 60 * np.arange(525_600, dtype=np.int64)
    close = 1e8 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 1e-3, len(ts))))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        regime_codes_per_bar(ts, close)
        times.append(time.perf_counter() - started)
    print(f"regime_codes_per_bar, 525,600 bars: median {sorted(times)[2] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
