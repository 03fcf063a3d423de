"""Issue 4: one collect_candles run for 100 symbols against the fake Upbit server (10 requests/s).

Target: wall time bound by the rate limit (about 10 s for 100 requests), database time < 0.5 s.
Each symbol already has history up to 3 minutes ago (the steady state plus a small gap), so a
run is one request per symbol. PostgreSQL scratch database and the real Redis limiter.

    .venv/bin/python bench/bench_collector.py
"""

import time
from datetime import timedelta

from bench_candle_store import drop_database, setup_database

SYMBOLS = [f"KRW-C{i:03d}" for i in range(100)]


def main() -> None:
    setup_database()
    try:
        from django.utils import timezone

        from core.redis_conn import get_redis
        from market.candles import floor_minute, store_candles, validate_candles
        from market.collector import collect
        from market.sources.upbit import UpbitSource, candle_from_upbit
        from market.upbit import UpbitClient
        from tests.fakes.upbit import FakeUpbit

        for key in get_redis().scan_iter("upbit:*"):
            get_redis().delete(key)
        now = timezone.now()
        end = floor_minute(now)
        with FakeUpbit(seed=5) as fake:
            for symbol in SYMBOLS:
                fake.add_minutes(symbol, end - timedelta(hours=6), end + timedelta(minutes=1))
                history = [candle_from_upbit(c) for c in fake.candles[symbol][:-4]]
                store_candles(validate_candles(history, symbol=symbol, now=now))
            client = UpbitClient(fake.url)
            started = time.perf_counter()
            result = collect(UpbitSource(client), SYMBOLS, now=timezone.now())
            took = time.perf_counter() - started
            client.close()
            print(
                f"collector: {len(SYMBOLS)} symbols, {result.requests} requests, {result.stored} new bars "
                f"in {took:.2f}s wall ({result.requests / took:.2f} req/s), db {result.db_seconds:.3f}s, "
                f"real 429s {fake.stats['429']}, errors {len(result.errors)}"
            )
    finally:
        drop_database()


if __name__ == "__main__":
    main()
