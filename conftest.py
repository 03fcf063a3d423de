"""Fixtures shared by every app's tests.

The suite runs in two modes: the embedded default (SQLite + in-process fakeredis) and real
servers (DATABASE_URL=postgres://..., REDIS_URL=redis://...). Tests marked `real_services` need
the real servers (worker processes, locks across processes, ON CONFLICT on PostgreSQL); they are
skipped only in the embedded mode, never when the servers are configured.
"""

import contextlib
import os
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import django_rq
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent
TEST_DATA = ROOT / "tests" / "data"  # real market data committed with the tests (see its README)
# Every log line of the run is swept for configured secret values (tests/log_sweep.py).
pytest_plugins = ["tests.log_sweep"]


def pytest_sessionstart(session):
    """The Korean catalog compiled (locale/*.po -> .mo, only what changed): pages are tested in both
    languages."""
    if not hasattr(session.config, "workerinput"):  # once, in the controlling process
        import dev

        dev.compile_messages({**os.environ, "DEBUG": "1", "COINPILOT_EMBEDDED": "1"})


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="ISO",
        help="run every test with the clock moved to this moment, from which it ticks (e.g. "
        "2026-12-31T15:00:30Z, 00:00:30 KST on New Year's Day): finds tests that depend on the date "
        "or the time of day. Tests that start child processes are skipped (those keep the real clock).",
    )


def pytest_configure(config):
    config.clock_moment = None
    at = config.getoption("--clock")
    if at:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise pytest.UsageError(f"--clock {at!r} is not an ISO time like 2026-12-31T15:00:30Z") from None
        if moment.tzinfo is None:
            raise pytest.UsageError(f"--clock {at!r} has no time zone: add Z (UTC) or +09:00 (KST)")
        config.clock_moment = moment


@pytest.fixture(autouse=True)
def moved_clock(request):
    """The clock of `--clock`, for the whole test (autouse fixtures are set up first)."""
    moment = request.config.clock_moment
    if moment is None:
        yield
        return
    import time_machine

    with time_machine.travel(moment, tick=True):
        yield


def real_services_configured() -> bool:
    return bool(settings.REDIS_URL) and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    if config.clock_moment is not None:
        # its child processes would run on the real clock, the test on the moved one
        split = pytest.mark.skip(reason="starts child processes, which keep the real clock (--clock)")
        for item in items:
            if "subprocess_env" in getattr(item, "fixturenames", ()):
                item.add_marker(split)
    if real_services_configured():
        return
    skip = pytest.mark.skip(reason="needs real PostgreSQL + Redis (set DATABASE_URL and REDIS_URL)")
    for item in items:
        if "real_services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the default language: a Korean request or override must not leak into
    the next test run by the same process."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def clean_redis():
    """Every test starts with an empty Redis database (db 15 on a real server, see settings_test)."""
    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(autouse=True)
def no_simulated_order_book(request, monkeypatch):
    """In-process paper fills use the fixed-bps model, not the simulated market's order book.

    Tests store candles of their own making, and the simulator's prices move from day to day
    (KRW-BTC from 56 to 96 million KRW in December 2026). Its book was used whenever it lay within
    BOOK_MISMATCH_PCT of a test's price, so fills, and the tests' outcome, depended on the date the
    suite ran. A test of the simulated book asks for it (`simulated_order_book`); child processes
    trade on the simulator's own candles, where its book always matches."""
    if request.node.get_closest_marker("simulated_order_book"):
        return
    from market.sources.base import MarketDataSource
    from market.sources.simulated import SimulatedSource
    from trading.executors import paper

    class SimulatedWithoutBook(SimulatedSource):
        order_book = MarketDataSource.order_book  # the base's answer: this source has no book

    configured = paper.book_source

    def book_source(spec: str):
        source = configured(spec)
        return SimulatedWithoutBook(source.seed) if isinstance(source, SimulatedSource) else source

    monkeypatch.setattr(paper, "book_source", book_source)


@pytest.fixture(autouse=True)
def books_stay_balanced(request):
    """After every test that used the database: the paper account's money invariant (cash +
    positions at cost + fees = initial cash + gross realised PnL) still holds. The balance keeps 8
    decimals, so each booking may round by up to 1e-8 KRW (a book fill off the tick grid makes
    price x quantity longer); SQLite keeps decimals as floats (a few 1e-8 of 10,000,000 KRW)."""
    yield
    if "django_db" not in request.keywords or request.node.get_closest_marker("books_written_by_hand"):
        return
    from django.db import DatabaseError, connection

    from trading.booking import paper_books_gap
    from trading.models import Trade

    if connection.needs_rollback:  # the test ended inside a failed transaction on purpose
        return
    try:
        gap = paper_books_gap()
        bookings = Trade.objects.filter(status="FILLED").count()
    except DatabaseError:  # a migration test left the tables at another state
        return
    tolerance = Decimal("1e-8") * bookings + (0 if connection.vendor == "postgresql" else Decimal("0.000001"))
    assert gap is None or abs(gap) <= tolerance, f"the paper account's books are off by {gap} KRW"


@pytest.fixture
def fake_anthropic(settings):
    """The fake Anthropic Messages API (tests/fakes/anthropic.py), with CoinPilot pointed at it."""
    from tests.fakes.anthropic import FakeAnthropic, configure

    with FakeAnthropic() as server:
        configure(settings, server)
        yield server


@pytest.fixture
def fake_telegram(settings):
    """The fake Telegram Bot API (tests/fakes/telegram.py), with CoinPilot pointed at it."""
    from tests.fakes.telegram import FakeTelegram, configure

    with FakeTelegram() as server:
        configure(settings, server)
        yield server


@pytest.fixture
def redis_conn(clean_redis):
    return clean_redis


@pytest.fixture
def run_jobs():
    """Run every queued RQ job in this process (a real rq SimpleWorker, burst mode)."""
    from rq.worker import SimpleWorker

    def run(*queues: str) -> None:
        names = queues or settings.RQ_QUEUE_NAMES
        worker = django_rq.get_worker(*names, worker_class=SimpleWorker)
        worker.work(burst=True, with_scheduler=False)

    return run


@pytest.fixture
def subprocess_env(settings, tmp_path) -> dict:
    """Environment for child processes (manage.py rqworker, run_scheduler) that share the test's
    database and Redis. Use with `@pytest.mark.django_db(transaction=True)` so they see its rows."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    env |= {
        "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
        "DATABASE_URL": f"postgres://{user}{password}@{host}:{port}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"],
        "COINPILOT_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    return env


def manage_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


@pytest.fixture
def spawn(subprocess_env, tmp_path):
    """Start manage.py child processes; all are stopped (SIGTERM, then SIGKILL) after the test."""
    children = []

    def start(*args: str, env: dict | None = None) -> subprocess.Popen:
        log = open(tmp_path / f"{args[0]}-{len(children)}.log", "w")  # noqa: SIM115
        child = subprocess.Popen(
            manage_command(*args), env=env or subprocess_env, stdout=log, stderr=subprocess.STDOUT
        )
        children.append((child, log))
        return child

    yield start
    stop_children([child for child, _ in children])
    for _, log in children:
        log.close()


def stop_children(children: list[subprocess.Popen]) -> None:
    """SIGTERM, again to whoever is still there 3 s later, then SIGKILL. An rq worker's first SIGTERM
    is a warm shutdown that waits for the running job (a test's long job held it until the SIGKILL,
    15 s later); its second is a cold one that takes the work-horse down with it."""
    for grace in (3, 15):
        alive = [child for child in children if child.poll() is None]
        for child in alive:
            child.terminate()
        deadline = time.monotonic() + grace
        for child in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def store_minutes(symbol: str, minutes: int, *, end, seed: int = 11):
    """Store `minutes` simulated 1m bars of `symbol` ending at `end`; returns the frame."""
    from datetime import timedelta
    from decimal import Decimal

    from bench.synthetic import synthetic_frame
    from market.candles import CandleRow, store_candles

    frame = synthetic_frame(minutes, seed=seed, start=(end - timedelta(minutes=minutes)).isoformat())
    store_candles(
        [
            CandleRow(
                symbol,
                "1m",
                r.timestamp.to_pydatetime(),
                *(Decimal(f"{x:.2f}") for x in (r.open, r.high, r.low, r.close, r.volume)),
                None,
            )
            for r in frame.itertuples(index=False)
        ]
    )
    return frame


def store_real_week(*symbols: str, rows: int | None = None) -> None:
    """The real week of KRW-BTC minutes (tests/data), or its first `rows`, under each of `symbols`."""
    from decimal import Decimal

    import pandas as pd

    from market.models import Candle

    df = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv").head(rows)
    dec = lambda x: Decimal(str(x))  # noqa: E731
    Candle.objects.bulk_create(
        (
            Candle(
                symbol=symbol, timestamp=pd.Timestamp(r.timestamp).to_pydatetime(), open=dec(r.open),
                high=dec(r.high), low=dec(r.low), close=dec(r.close), volume=dec(r.volume),
            )
            for symbol in symbols
            for r in df.itertuples()
        ),
        batch_size=2000,
    )  # fmt: skip
