"""Issue 14: what reading the order book adds to a buy (it is read only for symbols that buy).

Prints, per buy, the wall and CPU time of:
- live: GET /v1/orderbook through market.upbit (the shared Redis rate limiter, real Redis), the
  validation of its 30 levels and the walk + threshold check, against the fake Upbit server run
  in a child process (so its CPU is not counted) on loopback: the network to Upbit comes on top;
- paper on the simulated market: the book derived from the latest bar (day cache warm, and the
  first buy of a UTC day for a symbol, which generates that day's bars) and the walk;
- the fixed-bps fill it replaces, and a whole paper buy (fill + booking on PostgreSQL) with and
  without the book.

    .venv/bin/python bench/bench_orderbook.py        # scratch database cp_book_bench, Redis db 12
    .venv/bin/python bench/bench_orderbook.py --nagle  # the fake server as the tests run it
"""

import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "cp_book_bench"
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("COINPILOT_VAR_DIR", str(ROOT / "var" / "bench"))
os.environ["DJANGO_SETTINGS_MODULE"] = "coinpilot_site.settings"

N = 300
KRW = Decimal(500_000)  # a normal entry: 5 % of a 10,000,000 KRW account


def serve_fake(queue) -> None:
    """Child process: a fake Upbit with a 30-level KRW-BTC book, until killed."""
    from http.server import BaseHTTPRequestHandler

    from tests.fakes.upbit import GROUPS, FakeUpbit

    GROUPS["orderbook"] = ("orderbook", 10_000)  # the bench paces itself: time the call, not 429s
    # http.server sends headers and body in two writes; with Nagle on, loopback adds a 40 ms
    # delayed-ACK stall to every answer that a real web server (TCP_NODELAY) does not have.
    BaseHTTPRequestHandler.disable_nagle_algorithm = "--nagle" not in sys.argv
    fake = FakeUpbit().start()
    asks = [(95_124_000 + 1000 * n, 0.05 * (n + 1)) for n in range(30)]
    bids = [(95_123_000 - 1000 * n, 0.05 * (n + 1)) for n in range(30)]
    fake.set_book("KRW-BTC", asks=asks, bids=bids)
    queue.put(fake.url)
    while True:
        time.sleep(3600)


def timed(fn, n: int = N) -> tuple[float, float]:
    """Median wall and mean CPU seconds per call."""
    walls = []
    cpu0 = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls), (time.process_time() - cpu0) / n


def report(label: str, wall: float, cpu: float) -> None:
    print(f"  {label:<58} wall {wall * 1000:7.3f} ms   cpu {cpu * 1000:7.3f} ms")


def create_database() -> None:
    from bench import scratch

    scratch.create_database(DB)


def drop_database() -> None:
    from django.db import connections

    from bench import scratch

    connections.close_all()
    scratch.drop_database(DB)


def bench_live(url: str) -> None:
    from core.redis_conn import get_redis
    from market.ratelimit import RateLimiter
    from market.upbit import UpbitClient
    from trading.config import default_risk
    from trading.executors.base import BuyOrder, check_liquidity
    from trading.liquidity import walk_asks

    # The real limiter (a Lua script in Redis per request) at a rate that never makes the bench wait.
    client = UpbitClient(url, limiter=RateLimiter(get_redis(), rate=10_000))
    order = BuyOrder(
        "KRW-BTC", KRW, Decimal(95_123_000), "bench", "BULL", datetime.now(UTC), limits=default_risk()
    )
    client.order_book("KRW-BTC")  # connection up

    def check() -> None:
        book = client.order_book("KRW-BTC")
        check_liquidity(order, KRW, book, walk_asks(book.asks, KRW))

    print("live buy: the order book read before the market order")
    report("GET /v1/orderbook + validate 30 levels (loopback)", *timed(lambda: client.order_book("KRW-BTC")))
    report("... + walk + threshold check (the whole pre-buy check)", *timed(check))
    body = client.orderbook(["KRW-BTC"])
    from market.orderbook import parse_upbit_orderbook

    report("validate 30 levels only", *timed(lambda: parse_upbit_orderbook(body, "KRW-BTC"), 2000))
    client.close()


def bench_paper() -> None:
    from market.sources.simulated import SimulatedSource, day_candles
    from trading.fills import book_buy_fill, buy_fill

    source = SimulatedSource(seed=42)
    at = datetime.now(UTC)
    source.order_book("KRW-BTC", at)  # warm the day cache
    print("paper buy on the simulated market")
    report(
        "simulated book (day cached) + walk",
        *timed(lambda: book_buy_fill(krw=KRW, asks=source.order_book("KRW-BTC", at).asks)),
    )
    days = iter(range(10_000))

    def cold() -> None:
        day_candles.cache_clear()
        source.order_book("KRW-BTC", at - timedelta(days=next(days) % 30))

    report("simulated book, first buy of the UTC day (generates it)", *timed(cold, 60))
    report(
        "fixed-bps fill (the model it replaces)",
        *timed(lambda: buy_fill(krw=KRW, reference=Decimal(95_123_000), slippage_bps=Decimal(5)), 2000),
    )


def bench_paper_booking() -> None:
    from django.utils import timezone

    from market.sources.simulated import SimulatedSource
    from trading.executors.base import BuyOrder
    from trading.executors.paper import PaperExecutor
    from trading.models import Account, DailyRiskState, Position, RiskAudit, Trade

    source = SimulatedSource(seed=42)
    now = timezone.now()
    [bar] = source.fetch_candles("KRW-BTC", until=now.replace(second=0, microsecond=0), count=1)
    reference = Decimal(bar["close"])
    counter = iter(range(1_000_000))

    def buy(executor) -> None:
        n = next(counter)
        executor.buy(BuyOrder("KRW-BTC", KRW, reference, f"bench-{n}", "BULL", now))
        Position.objects.all().delete()

    print("paper buy, fill + booking on PostgreSQL (one transaction)")
    for label, books in (("with the simulated book", source.order_book), ("fixed bps", None)):
        Account.objects.update_or_create(name="paper", defaults={"balance": Decimal(10) ** 12})
        executor = PaperExecutor(slippage_bps=Decimal(5), books=books)
        report(label, *timed(lambda executor=executor: buy(executor), 100))
        Trade.objects.all().delete()
        DailyRiskState.objects.all().delete()
    assert not RiskAudit.objects.exists()


def main() -> None:
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(target=serve_fake, args=(queue,), daemon=True)
    child.start()
    url = queue.get(timeout=30)
    create_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    try:
        print(f"{N} buys each, median wall / mean CPU per buy (load average {os.getloadavg()[0]:.1f})")
        bench_live(url)
        bench_paper()
        bench_paper_booking()
    finally:
        child.terminate()
        drop_database()


if __name__ == "__main__":
    main()
