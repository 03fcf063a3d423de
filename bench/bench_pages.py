"""Issue 9 / 18: every page and JSON endpoint at 10 concurrent users, with a year of data in PostgreSQL.

Data: 5 symbols x 1 year of 1m candles (2.6M rows, loaded with COPY), 20,000 trades, 50,000 AI
decisions, a year of hourly regime rows and a year of job runs (1.6M); a finished Strategy lab
study of 200 trials and the 20 backtest runs the Backtest page lists (a year each, their reports
kept in Redis as the runs' results: made again when Redis no longer holds them). Served by gunicorn
as it ships (gunicorn.conf.py's workers and threads, printed; `--workers` / `--threads` to try others; until
session 20 this bench ran 2 workers); 10 client threads each send REQUESTS requests per endpoint
over loopback with a logged-in session.
Prints p50 / p95 / max per endpoint of the server time (the Server-Timing header: issue 18's
target, p95 <= 100 ms idle and <= 300 ms with both cores busy) and of the client-side latency,
which adds the wait for a free worker. Before the measurement the page cache is emptied and every
endpoint requested once, alone: the "miss" column is what a page costs when nothing is cached.
`--busy N` keeps N CPU-burning processes running meanwhile (other work on the machine); the
load average, the machine's CPU use and the server's CPU time are printed with the figures.

    .venv/bin/python bench/bench_pages.py           # creates and fills the scratch database cp_bench_pages
    .venv/bin/python bench/bench_pages.py --reuse   # keeps the data of an earlier run (migrates only)
    .venv/bin/python bench/bench_pages.py --reuse --busy 2   # both cores busy with other work
"""

import argparse
import io
import os
import runpy
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import busy  # noqa: E402

DB = "cp_bench_pages"
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "COINPILOT_VAR_DIR": str(ROOT / "var" / "bench-pages"),
    "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
    "STATIC_ROOT": str(ROOT / "var" / "bench-pages" / "static"),
}
os.environ.update(ENV)
SYMBOLS = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
MINUTES = 365 * 1440
PORT = 8765
USERS = 10
REQUESTS = 20
ENDPOINTS = [
    "/",
    "/api/overview",
    "/market/?symbol=KRW-BTC&range=1d",
    "/market/?symbol=KRW-BTC&range=30d",
    "/market/?symbol=KRW-BTC&range=1y",
    "/market/chart.json?symbol=KRW-BTC&range=30d",  # what the Market page's script fetches
    "/market/chart.json?symbol=KRW-BTC&range=1y",
    "/risk/",
    "/history/",
    "/history/?side=SELL&exit_reason=STOP_LOSS",
    "/system/",
    "/exits/?days=30",
    "/backtest/",
    "/ask/",
    "/lab/",
    "/api/v1/status",
    "/api/v1/trades",
    "/api/v1/regimes",
    "/api/v1/jobs",
]
LAB_TRIALS = 200
BACKTEST_RUNS = 20  # what the Backtest page lists


def create_database() -> None:
    from bench import scratch

    scratch.create_database(DB)


def load_candles(end) -> None:
    """A year of 1m bars per symbol, COPY'd straight into market_data."""
    from django.db import connection

    start = end - timedelta(minutes=MINUTES)
    stamps = (
        (np.datetime64(start.replace(tzinfo=None), "m") + np.arange(MINUTES))
        .astype("datetime64[s]")
        .astype(str)
    )
    for i, symbol in enumerate(SYMBOLS):
        rng = np.random.default_rng(i)
        close = 50_000_000 * np.exp(np.cumsum(rng.normal(0, 8e-4, MINUTES)))
        open_ = np.concatenate([[close[0]], close[:-1]])
        high, low = np.maximum(open_, close) * 1.0004, np.minimum(open_, close) * 0.9996
        volume = rng.gamma(2.0, 1.5, MINUTES)
        buf = io.StringIO()
        for row in zip(stamps, open_, high, low, close, volume, strict=True):
            buf.write(
                f"{symbol}\t1m\t{row[0]}+00\t{row[1]:.2f}\t{row[2]:.2f}\t{row[3]:.2f}\t{row[4]:.2f}\t{row[5]:.8f}\t\\N\n"
            )
        buf.seek(0)
        with connection.cursor() as cur:
            cur.cursor.copy_expert(
                "COPY market_data (symbol, interval, timestamp, open, high, low, close, volume, "
                "quote_volume) FROM STDIN",
                buf,
            )


def load_rows(end) -> None:
    """20,000 trades (half of them sells with PnL and post-exit prices), 50,000 AI decisions, regimes,
    a year of job runs."""
    from agents.models import AgentDecision
    from market.models import RegimeHistory
    from trading.models import RiskAudit, Trade

    rng = np.random.default_rng(7)
    reasons = ["STOP_LOSS", "TRAILING_STOP", "TAKE_PROFIT", "RSI_OVERBOUGHT", "TIME_LIMIT"]
    trades = []
    for i in range(10_000):
        at = end - timedelta(minutes=int(rng.integers(1, MINUTES)))
        symbol, pnl = SYMBOLS[i % 5], float(rng.normal(0, 2))
        common = {
            "symbol": symbol,
            "price": 50_000_000,
            "quantity": "0.01",
            "status": "FILLED",
            "regime": "BULL",
        }
        trades.append(Trade(side="BUY", client_order_id=f"b{i}", executed_at=at, **common))
        trades.append(
            Trade(
                side="SELL",
                client_order_id=f"s{i}",
                executed_at=at + timedelta(hours=2),
                exit_reason=reasons[i % 5],
                signal_info={
                    "pnl": f"{pnl * 5000:.2f}",
                    "pnl_pct": f"{pnl:.4f}",
                    "entry_avg_price": "50000000",
                },
                post_exit_prices={
                    "1h": {"change_pct": float(rng.normal())},
                    "24h": {"change_pct": float(rng.normal(0, 3))},
                },
                **common,
            )
        )
    Trade.objects.bulk_create(trades, batch_size=5000)
    AgentDecision.objects.bulk_create(
        [
            AgentDecision(
                symbol=SYMBOLS[i % 5],
                decision="APPROVED" if i % 3 else "REJECTED",
                regime="BULL",
                reasoning="bench decision " * 5,
                confidence=70,
                price_at_decision=50_000_000,
            )
            for i in range(50_000)
        ],
        batch_size=5000,
    )
    regimes = ["BULL", "SIDEWAYS", "BEAR"]
    RegimeHistory.objects.bulk_create(
        [
            RegimeHistory(coin_symbol=s, regime=regimes[(hour // 37) % 3])
            for s in SYMBOLS
            for hour in range(365 * 24)
        ],
        batch_size=5000,
    )
    spread_regimes_hourly(end)
    spread_decisions(end)
    load_job_runs(end)
    RiskAudit.objects.bulk_create(
        [
            RiskAudit(
                violation_type="MAX_POSITIONS", description="3 positions open, limit 3", symbol=SYMBOLS[i % 5]
            )
            for i in range(5000)
        ],
        batch_size=5000,
    )


def load_job_runs(end) -> None:
    """A year of the scheduler's record: the three every-minute jobs' runs (1.58M rows, 1 % failed)
    and the hourly regime update's, as a System page finds them after a year."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO job_runs (job, slot, status, started_at, finished_at, duration_ms, worker, message,"
            " claim, heartbeat_at) SELECT job, slot, CASE WHEN random() < 0.01 THEN 'failure' ELSE 'success'"
            " END, slot + interval '1 second', slot + interval '2 second', 900, 'bench', '',"
            " job || ':' || slot::text, slot + interval '2 second'"
            " FROM (SELECT job, slot FROM unnest(ARRAY['heartbeat', 'collect_candles', 'bot_cycle']) job,"
            " generate_series(%s - interval '365 days', %s, interval '1 minute') slot"
            " UNION ALL SELECT 'update_regime', slot"
            " FROM generate_series(%s - interval '365 days', %s, interval '1 hour') slot) runs",
            [end] * 4,
        )


def spread_regimes_hourly(end) -> None:
    """One evaluation per symbol and hour over the year (created_at is set on insert)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "WITH numbered AS (SELECT id, row_number() OVER (PARTITION BY coin_symbol ORDER BY id) AS n "
            "FROM regime_history) UPDATE regime_history r "
            "SET created_at = %s - (8761 - n) * interval '1 hour' FROM numbered WHERE r.id = numbered.id",
            [end],
        )


def spread_decisions(end) -> None:
    """The AI decisions one every 10 minutes over the year (~140 a day), not all on the day the
    data was loaded: today's AI cost on the System page sums one day's decisions."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM agent_decisions) "
            "UPDATE agent_decisions d SET created_at = %s - (50001 - n) * interval '10 minutes' "
            "FROM numbered WHERE d.id = numbered.id",
            [end],
        )


def lab_study(end) -> int:
    """A finished study of the Strategy lab: 200 trials over 30 days of KRW-BTC, run in this process
    (about 25 s); the one an earlier run made if there is one."""
    from lab.inputs import StudyRequest, default_space
    from lab.models import Study
    from lab.study import create_study, run_trials
    from trading.parameters import REGIMES

    done = Study.objects.filter(status=Study.Status.DONE).first()
    if done is not None:
        return done.pk
    started = time.perf_counter()
    study = create_study(
        StudyRequest(
            symbols=["KRW-BTC"], start=end - timedelta(days=31), end=end - timedelta(days=1),
            regimes=list(REGIMES), space=default_space(list(REGIMES)), objectives=["sharpe"],
            n_trials=LAB_TRIALS, seed=42,
        )
    )  # fmt: skip
    run_trials(study)
    print(f"lab study of {LAB_TRIALS} trials in {time.perf_counter() - started:.0f} s")
    return study.pk


def backtest_runs(end) -> str:
    """BACKTEST_RUNS finished backtests of a year (the symbols in turn) through the real job, run
    by an rq worker in this process; their results expire after a day, as the page's runs do.
    Returns the newest run's id."""
    import django_rq
    from rq import SimpleWorker

    from trading import backtest_runs as runs

    finished = [run for run in runs.recent_runs() if run["status"] == "finished"]
    if len(finished) >= BACKTEST_RUNS:
        return finished[0]["id"]
    started = time.perf_counter()
    for i in range(BACKTEST_RUNS):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        runs.start_run(runs.BacktestRequest(symbol, end - timedelta(days=361), end - timedelta(days=1)))
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    print(f"{BACKTEST_RUNS} backtest runs of a year in {time.perf_counter() - started:.0f} s")
    return runs.recent_runs()[0]["id"]


def endpoints(end) -> list[str]:
    """ENDPOINTS and the pages of a lab study and of a backtest run (made first if missing)."""
    study, run = lab_study(end), backtest_runs(end)
    return [*ENDPOINTS, f"/lab/{study}/", f"/backtest/{run}/", f"/backtest/{run}.json"]


def clear_page_cache() -> None:
    """Empty the page cache (every page a miss), and nothing else: the backtest runs' results live
    in the same Redis database."""
    from django.conf import settings

    from core.redis_conn import get_redis

    redis = get_redis()
    keys = list(redis.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    for first in range(0, len(keys), 1000):
        redis.delete(*keys[first : first + 1000])


def vacuum_analyze() -> None:
    """What autovacuum does on a server (it may be off on a bench server): planner statistics for
    every table (without them PostgreSQL guesses one row for 20,000 trades and walks them all), and
    the dead rows of the loading's UPDATEs removed (spreading the regimes and the AI decisions over
    the year leaves one dead row per row: the System page's newest regimes took 0.50 ms instead of
    0.26 ms stepping over them)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def session_cookie() -> str:
    from django.contrib.auth import get_user_model

    from core.sessions import SessionStore

    users = get_user_model().objects
    password = "bench-pass-123"  # noqa: S105
    user = users.filter(username="bench").first() or users.create_superuser("bench", password=password)
    session = SessionStore()
    session["_auth_user_id"], session["_auth_user_backend"] = (
        str(user.pk),
        "core.auth_backend.ModelBackend",
    )
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def hammer(cookie: str, urls: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Client-side latency and server time (the Server-Timing header) of every request, seconds,
    and the CPU seconds the clients themselves took (they share the 2 cores with the server)."""
    import httpx

    timings: dict[str, list[float]] = {url: [] for url in urls}
    server: dict[str, list[float]] = {url: [] for url in urls}

    def user(_: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{PORT}", cookies={"sessionid": cookie}, timeout=60
        ) as client:
            for url in urls:
                for _ in range(REQUESTS):
                    started = time.perf_counter()
                    response = client.get(url)
                    timings[url].append(time.perf_counter() - started)
                    assert response.status_code == 200, (url, response.status_code)
                    server[url].append(float(response.headers["Server-Timing"].split("dur=")[1]) / 1000)

    cpu = time.process_time()
    with ThreadPoolExecutor(USERS) as pool:
        list(pool.map(user, range(USERS)))
    return timings, server, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    parser.add_argument("--busy", type=int, default=0, help="CPU-burning processes during the run")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    args = parser.parse_args()
    if not args.reuse:
        create_database()
    import django
    from django.core.management import call_command
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)  # as a deployment does (manifest storage)
    end = timezone.now().replace(second=0, microsecond=0)
    if not args.reuse:
        started = time.perf_counter()
        load_candles(end)
        load_rows(end)
        from market import rollups

        rollups.rebuild()  # COPY bypasses store_candles, which keeps the rollup current
        print(f"data loaded in {time.perf_counter() - started:.0f} s")
    urls = endpoints(end)
    vacuum_analyze()
    cookie = session_cookie()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            *(["--workers", str(args.workers)] if args.workers else []),
            *(["--threads", str(args.threads)] if args.threads else []),
            "-b",
            f"127.0.0.1:{PORT}",
            "coinpilot_site.wsgi:application",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(6)
        hammer(cookie, urls)  # warm-up: processes, connections, templates
        with busy.burning(args.busy):
            misses = cold_pass(cookie, urls)
            sample = busy.MachineSample(server.pid).start()
            timings, server_times, client_cpu = hammer(cookie, urls)
            sample.stop()
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(args.busy, urls, misses, timings, server_times, sample, client_cpu, served_layout(args))


def served_layout(args) -> str:
    """The run's gunicorn layout: the flags, else gunicorn.conf.py as it reads this environment."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return f"gunicorn {args.workers or conf['workers']} workers x {args.threads or conf['threads']} threads"


def cold_pass(cookie: str, urls: list[str]) -> dict[str, float]:
    """Server time of each endpoint requested alone with the page cache empty (a miss), seconds."""
    import httpx

    clear_page_cache()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{PORT}", cookies={"sessionid": cookie}, timeout=60
    ) as client:
        return {url: float(client.get(url).headers["Server-Timing"].split("dur=")[1]) / 1000 for url in urls}


def report(
    burners: int, urls: list[str], misses, timings, server_times, sample, client_cpu: float, served: str
) -> None:
    limit = 300 if burners else 100
    print(f"{USERS} concurrent users, {REQUESTS} requests each per endpoint (ms), {burners} CPU burners")
    print(served)
    print(f"{sample.summary('measurement')}, the clients' CPU {client_cpu:.1f} s")
    print(
        f"  {'':<50} {'miss':>5}  {f'server time (target p95 <= {limit})':>34}"
        f"   {'client side (incl. queueing)':>30}"
    )
    for url in urls:
        server_p50, server_p95, server_max = percentiles(server_times[url])
        client_p50, client_p95, client_max = percentiles(timings[url])
        print(
            f"  {url:<50} {misses[url] * 1000:5.0f}  p50 {server_p50:5.0f} p95 {server_p95:5.0f}"
            f" max {server_max:5.0f} {'ok' if server_p95 <= limit else 'OVER':>4}"
            f"   p50 {client_p50:5.0f} p95 {client_p95:5.0f} max {client_max:5.0f}"
        )


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    values = sorted(v * 1000 for v in seconds)
    return statistics.median(values), values[int(len(values) * 0.95) - 1], values[-1]


if __name__ == "__main__":
    main()
