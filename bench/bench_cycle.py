"""Issue 6: one full bot cycle for 100 symbols, no position, AI off, on PostgreSQL + Redis.

Target: <= 1 s wall (<= 10 ms per symbol) with 200 bars per symbol. Also runs the live window
the cycle really uses (strategy.LIVE_WINDOW_BARS bars) for comparison. Prints the per-stage
breakdown of the median run. Each run waits for and claims the bar that just closed (stored for
every symbol, so the wait returns at once) in the database, as the scheduled cycle does.

    .venv/bin/python bench/bench_cycle.py            # uses a scratch database cp_bench_cycle
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "cp_bench_cycle"
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("COINPILOT_VAR_DIR", str(ROOT / "var" / "bench"))
os.environ.setdefault("MAX_ACTIVE_SYMBOLS", "100")  # the benchmark trades 100 symbols
os.environ["DJANGO_SETTINGS_MODULE"] = "coinpilot_site.settings"

SYMBOLS = [f"KRW-B{i:03d}" for i in range(100)]
RUNS = 7


def create_database() -> None:
    from bench import scratch

    scratch.create_database(DB)


def seed(bars: int, now) -> None:
    from bench.synthetic import synthetic_frame
    from market.candles import CandleRow, store_candles
    from market.models import Candle

    Candle.objects.all().delete()
    rows = []
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    for i, symbol in enumerate(SYMBOLS):
        frame = synthetic_frame(bars, seed=i, start=(end - timedelta(minutes=bars - 1)).isoformat())
        for r in frame.itertuples(index=False):
            d = [Decimal(f"{x:.8f}") for x in (r.open, r.high, r.low, r.close, r.volume)]
            rows.append(CandleRow(symbol, "1m", r.timestamp.to_pydatetime(), *d, None))
    store_candles(rows)


def measure(label: str, bars: int) -> None:
    from django.utils import timezone

    from core.redis_conn import get_redis
    from trading.cycle import StageTimer, run_cycle
    from trading.executors.paper import PaperExecutor
    from trading.markets import live_market
    from trading.models import SymbolState

    now = timezone.now()
    seed(bars, now)
    conn = get_redis()
    for symbol in SYMBOLS:
        conn.set(f"market:regime:{symbol}", "SIDEWAYS", ex=7200)
    executor = PaperExecutor(slippage_bps=Decimal(5))
    walls, cpus, timers = [], [], []
    for run in range(RUNS):
        SymbolState.objects.update(last_decided_bar=None)  # every run decides on every symbol
        timer = StageTimer()
        started, cpu = time.perf_counter(), time.process_time()
        results = run_cycle(
            now=now, slot=now + timedelta(minutes=run), market=live_market(), executor=executor, timer=timer
        )
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        timers.append(timer)
        assert len(results) == len(SYMBOLS)
    median = statistics.median(walls)
    timer = timers[walls.index(sorted(walls)[len(walls) // 2])]
    actions = {r.action for r in results}
    print(
        f"{label}: {len(SYMBOLS)} symbols x {bars} bars: median {median * 1000:.0f} ms "
        f"({median / len(SYMBOLS) * 1000:.1f} ms/symbol), best {min(walls) * 1000:.0f} ms, "
        f"CPU median {statistics.median(cpus) * 1000:.0f} ms, actions {sorted(actions)}"
    )
    for stage, seconds in timer.seconds.items():
        print(f"    {stage:<18} {seconds * 1000:7.1f} ms")


def main() -> None:
    create_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from trading.config import default_strategy, save_strategy_version, strategy_as_dict

    regimes = strategy_as_dict(default_strategy())["regimes"]
    save_strategy_version(symbols=SYMBOLS, params=regimes, note="bench")
    measure("target (issue 6)", 200)
    from trading.strategy import LIVE_WINDOW_BARS

    measure("live window", LIVE_WINDOW_BARS)


if __name__ == "__main__":
    main()
