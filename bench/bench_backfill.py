"""Issue 4: backfill of 30 days of one symbol from the fake Upbit server limited to 10 requests/s.

Targets: 43,200 candles in 216 pages at >= 9 requests/s sustained with zero 429s; and, with the
server failing 10 % of requests with 429 or 500, every candle still stored exactly once.
PostgreSQL (scratch database, dropped after) and the real Redis limiter, as in production.

    .venv/bin/python bench/bench_backfill.py
"""

import time
from datetime import timedelta

from bench_candle_store import drop_database, setup_database


def run(fake, since, until, label: str) -> None:
    from market.backfill import Backfill
    from market.models import Candle
    from market.sources.upbit import UpbitSource
    from market.upbit import UpbitClient

    Candle.objects.all().delete()
    before = dict(fake.stats)
    client = UpbitClient(fake.url)
    started = time.perf_counter()
    (report,) = Backfill(UpbitSource(client), since, until).run(["KRW-BTC"])
    took = time.perf_counter() - started
    client.close()
    requests = fake.stats["requests"] - before.get("requests", 0)
    stored = Candle.objects.filter(symbol="KRW-BTC").count()
    expected = len(fake.candles["KRW-BTC"])
    injected = sum(fake.stats[k] - before.get(k, 0) for k in ("injected_429", "injected_500"))
    print(
        f"{label}: {report.pages} pages, {requests} requests in {took:.1f}s = {requests / took:.2f} req/s, "
        f"{report.stored:,} candles ({report.stored / took:,.0f}/s); stored {stored:,} of {expected:,}, "
        f"real 429s {fake.stats['429'] - before.get('429', 0)}, injected failures {injected}, "
        f"client retries {client.stats['retries']}, error {report.error or 'none'}"
    )


def main() -> None:
    setup_database()
    try:
        from django.utils import timezone

        from core.redis_conn import get_redis
        from market.candles import floor_minute
        from tests.fakes.upbit import FakeUpbit

        for key in get_redis().scan_iter("upbit:*"):
            get_redis().delete(key)
        until = floor_minute(timezone.now())
        since = until - timedelta(days=30)
        with FakeUpbit(seed=4) as fake:
            fake.add_minutes("KRW-BTC", since, until)
            run(fake, since, until, "clean    ")
            fake.fail_rate = 0.10
            run(fake, since, until, "10% fail ")
    finally:
        drop_database()


if __name__ == "__main__":
    main()
