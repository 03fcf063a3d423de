"""Issue 18 ("bot cycle"): one full bot cycle on PostgreSQL + Redis, AI off, for 10, 100 and 300
symbols with the live window the cycle really reads (strategy.LIVE_WINDOW_BARS = 1,000 bars).

Targets: 100 symbols <= 0.3 s wall; growth 10 -> 100 -> 300 symbols <= 1.5 ms CPU per symbol.
(Issue 6, 100 symbols x 200 bars <= 1 s: `--bars 200 --sizes 100`.)

Per size: the median wall and CPU time of RUNS cycles (this process, and its PostgreSQL backend
when the server runs on this machine), the load average, and the wall / CPU breakdown per stage of
the median run; then the CPU growth per symbol. Each run waits
for and claims the bar that just closed (stored for every symbol, so the wait returns at once) in
the database, as the scheduled cycle does. Positions the first runs open are kept, so later runs
also manage them (exit rules), as a live cycle would.

    .venv/bin/python bench/bench_cycle.py            # uses a scratch database cp_bench_cycle
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scratch import backend_cpu  # noqa: E402

DB = "cp_bench_cycle"
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("COINPILOT_VAR_DIR", str(ROOT / "var" / "bench"))
os.environ.setdefault("MAX_ACTIVE_SYMBOLS", "100")
os.environ["DJANGO_SETTINGS_MODULE"] = "coinpilot_site.settings"

SIZES = (10, 100, 300)
RUNS = 7
UNVACUUMED_ROWS = 5_000  # market_data's autovacuum_vacuum_insert_threshold (migration market 0011)


def symbols(count: int) -> list[str]:
    return [f"KRW-B{i:03d}" for i in range(count)]


def create_database() -> None:
    from bench import scratch

    scratch.create_database(DB)


def seed(count: int, bars: int, now) -> None:
    """`bars` synthetic 1m bars per symbol, the newest one the bar that closed at `now`'s minute."""
    from django.db import connection

    from bench.synthetic import synthetic_frame
    from market.candles import CandleRow, store_candles
    from market.models import Candle

    Candle.objects.all().delete()
    rows = []
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    for i, symbol in enumerate(symbols(count)):
        frame = synthetic_frame(bars, seed=i, start=(end - timedelta(minutes=bars - 1)).isoformat())
        for r in frame.itertuples(index=False):
            d = [Decimal(f"{x:.8f}") for x in (r.open, r.high, r.low, r.close, r.volume)]
            rows.append(CandleRow(symbol, "1m", r.timestamp.to_pydatetime(), *d, None))
    # stored minute by minute, every symbol's bar of a minute together, as the collector stores
    # them: a symbol's window is then spread over as many table pages as it has bars (stored symbol
    # by symbol, it sat on a few dozen pages, and reading it cost the server less than live)
    rows.sort(key=lambda row: row.timestamp)  # stable: the symbols' order within each minute
    # The newest UNVACUUMED_ROWS rows are stored after the vacuum: the moment just before autovacuum
    # runs again, when the most table pages the window's index-only scan must still visit are unmarked.
    older, newest = rows[:-UNVACUUMED_ROWS], rows[-UNVACUUMED_ROWS:]
    store_candles(older)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE market_data")  # as autovacuum does after every 5,000 new rows
    store_candles(newest)


def trade(count: int) -> None:
    """A strategy version trading the first `count` symbols, stored directly: the configuration
    allows at most MAX_ACTIVE_SYMBOLS (100), the benchmark measures beyond it."""
    from trading.config import default_strategy, store_new_version, strategy_as_dict
    from trading.models import StrategyConfig

    regimes = strategy_as_dict(default_strategy())["regimes"]
    store_new_version(StrategyConfig(symbols=symbols(count), params=regimes), None, "bench")


def measure(count: int, bars: int, now) -> dict:
    from core.redis_conn import get_redis
    from trading.cycle import StageTimer, run_cycle
    from trading.executors.paper import PaperExecutor
    from trading.markets import live_market
    from trading.models import SymbolState

    trade(count)
    conn = get_redis()
    for symbol in symbols(count):
        conn.set(f"market:regime:{symbol}", "SIDEWAYS", ex=7200)
    executor = PaperExecutor(slippage_bps=Decimal(5))
    walls, cpus, servers, timers, actions = [], [], [], [], {}
    load = os.getloadavg()[0]
    for run in range(RUNS):
        SymbolState.objects.update(last_decided_bar=None)  # every run decides on every symbol
        timer = StageTimer()
        server = backend_cpu()
        started, cpu = time.perf_counter(), time.process_time()
        results = run_cycle(
            now=now, slot=now + timedelta(minutes=run), market=live_market(), executor=executor, timer=timer
        )
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        servers.append(backend_cpu() - server)
        timers.append(timer)
        assert len(results) == count
        for r in results:
            actions[r.action] = actions.get(r.action, 0) + 1
    load = max(load, os.getloadavg()[0])
    median, cpu = statistics.median(walls), statistics.median(cpus)
    timer = timers[walls.index(sorted(walls)[len(walls) // 2])]
    print(
        f"{count} symbols x {bars} bars (load {load:.2f}): median {median * 1000:.0f} ms wall, "
        f"best {min(walls) * 1000:.0f} ms, CPU median {cpu * 1000:.0f} ms "
        f"({cpu / count * 1000:.2f} ms/symbol), "
        f"PostgreSQL backend CPU median {statistics.median(servers) * 1000:.0f} ms; "
        f"actions over {RUNS} runs {dict(sorted(actions.items()))}"
    )
    print(f"    {'stage':<18} {'wall ms':>8} {'CPU ms':>8}")
    for stage, seconds in timer.seconds.items():
        print(f"    {stage:<18} {seconds * 1000:8.1f} {timer.cpu_seconds[stage] * 1000:8.1f}")
    return {"wall": median, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="symbol counts")
    parser.add_argument("--bars", type=int, default=None, help="bars per symbol (default: the live window)")
    args = parser.parse_args()
    create_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from trading.strategy import LIVE_WINDOW_BARS

    bars = args.bars or LIVE_WINDOW_BARS
    now = timezone.now()
    seed(max(args.sizes), bars, now)
    found = {count: measure(count, bars, now) for count in sorted(args.sizes)}
    sizes = sorted(found)
    for small, large in zip(sizes, sizes[1:], strict=False):
        grow = (found[large]["cpu"] - found[small]["cpu"]) / (large - small)
        wall = (found[large]["wall"] - found[small]["wall"]) / (large - small)
        print(
            f"growth {small} -> {large} symbols: {grow * 1000:.2f} ms CPU, {wall * 1000:.2f} ms wall a symbol"
        )


if __name__ == "__main__":
    main()
