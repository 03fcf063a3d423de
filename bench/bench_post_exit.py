"""Issues 8 and 18: one post-exit tracker run over 10,000 SELLs with 5,000,000 candles stored
(target <= 2 s in issue 8, <= 0.4 s in issue 18).

    .venv/bin/python bench/bench_post_exit.py [--runs 5] [--keep | --reuse]

Scratch PostgreSQL database cp_postexit_bench (BENCH_DB overrides; created, and dropped
afterwards unless --keep; --reuse times the data an earlier --keep run left, migrating only).
Loads 100 symbols x 50,000 1m bars by COPY and 10,000 FILLED SELLs spread over the last 48 h, not
timed. About 20,000 windows are then due at once (as after a long outage; a normal 10-minute
run finds only the windows that came due since the last one). VACUUM ANALYZE once after
loading (what autovacuum does to an insert-only table); each run clears post_exit_prices and
vacuums trading_history, then times `track_post_exit_prices`: one statement that finds every
due window and its bar and merges them into the SELLs' JSON, first with trading_history's
fillfactor as migrated (80), then at 100 (full pages, as before). Prints the median and the
best wall time, and the median CPU time of this process and of its PostgreSQL backend (read
from /proc, so only when the server runs on this machine).
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import scratch  # noqa: E402
from market.copystream import LineReader  # noqa: E402

os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/8"  # this one, whatever the shell says
os.environ["COINPILOT_READ_DOTENV"] = "0"
DB = scratch.use_database("cp_postexit_bench", redis_db=8, var_dir="coinpilot-bench-h8")

SYMBOLS = [f"KRW-B{n:03d}" for n in range(100)]
BARS = 50_000  # per symbol: 5,000,000 in all
SELLS = 10_000
NOW = datetime(2026, 11, 21, 0, 0, 30, tzinfo=UTC)


def setup_database(fresh: bool = True) -> None:
    """A fresh scratch database with the schema, and Django set up on it."""
    if fresh:
        scratch.create_database(DB)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    scratch.drop_database(DB)


def load_candles() -> None:
    from django.db import connection

    first = NOW.replace(second=0) - timedelta(minutes=BARS)

    def lines():
        for n, symbol in enumerate(SYMBOLS):
            for i in range(BARS):
                at = first + timedelta(minutes=i)
                price = 100_000 + (i * 7919 + n) % 5000
                yield f"{symbol}\t1m\t{at:%Y-%m-%d %H:%M:%S}+00\t{price}\t{price}\t{price}\t{price}\t1\t\\N\n"

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            "COPY market_data (symbol, interval, timestamp, open, high, low, close, volume, quote_volume) "
            "FROM STDIN",
            LineReader(lines()),
        )
    print(f"loaded {len(SYMBOLS) * BARS:,} candles in {time.perf_counter() - started:.0f} s")


def load_sells() -> None:
    from decimal import Decimal

    from trading.models import Trade

    span = timedelta(hours=47) / SELLS
    trades = [
        Trade(
            symbol=SYMBOLS[n % len(SYMBOLS)],
            side="SELL",
            price=Decimal(100_000 + n % 5000),
            quantity=Decimal("0.01"),
            fee=Decimal("0.5"),
            status="FILLED",
            regime=("BULL", "SIDEWAYS", "BEAR")[n % 3],
            exit_reason=("TRAILING_STOP", "TAKE_PROFIT", "STOP_LOSS", "TIME_LIMIT")[n % 4],
            signal_info={"entry_avg_price": "100000", "entry_fee": "0.5"},
            client_order_id=f"bench-sell-{n}",
            executed_at=NOW - timedelta(hours=1) - n * span,
        )
        for n in range(SELLS)
    ]
    Trade.objects.bulk_create(trades, batch_size=2000)


def vacuum(*tables: str) -> None:
    """What autovacuum does to the tables (visibility map, statistics), done before timing."""
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        for table in tables or ("market_data", "trading_history"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def rewrite(fillfactor: int) -> None:
    """trading_history with this fillfactor, its pages rewritten to it (VACUUM FULL)."""
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE trading_history SET (fillfactor = {int(fillfactor)})")
        cursor.execute("VACUUM FULL ANALYZE trading_history")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    reuse = "--reuse" in sys.argv
    keep = "--keep" in sys.argv or reuse
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    if reuse and not scratch.database_exists(DB):
        raise SystemExit(f"--reuse: no database {DB}; run once with --keep first")
    setup_database(fresh=not reuse)
    try:
        from analytics.post_exit import track_post_exit_prices
        from trading.models import Trade

        if not reuse:
            load_candles()
            load_sells()
            vacuum()
        elif Trade.objects.count() != SELLS:
            raise SystemExit(f"--reuse: {DB} holds no data of an earlier --keep run")
        # trading_history's fillfactor as migrated (80: room for HOT updates), then 100 (full
        # pages, as before trading/0010), each after rewriting the table, in the same run
        for fillfactor in (80, 100):
            rewrite(fillfactor)
            times, cpu, server_cpu = [], [], []
            for _ in range(runs):
                Trade.objects.update(post_exit_prices={})
                vacuum("trading_history")
                server_before = scratch.backend_cpu()
                started, cpu_started = time.perf_counter(), time.process_time()
                result = track_post_exit_prices(NOW)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                server_cpu.append(scratch.backend_cpu() - server_before)
            for series in (times, cpu, server_cpu):
                series.sort()
            print(f"fillfactor {fillfactor}: {result.summary()} ({Trade.objects.count():,} SELLs stored)")
            median, best = times[len(times) // 2], times[0]
            print(f"  track_post_exit_prices: median {median:.3f} s, best {best:.3f} s ({runs} runs)")
            print(
                f"  CPU median: this process {cpu[len(cpu) // 2]:.3f} s, "
                f"PostgreSQL backend {server_cpu[len(server_cpu) // 2]:.3f} s; load average {load_average()}"
            )
    finally:
        if not keep:
            drop_database()


if __name__ == "__main__":
    main()
