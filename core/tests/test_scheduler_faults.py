"""Real faults in real processes: Redis forgets everything mid-run, a worker is SIGKILLed.

Each test runs `manage.py rqworker` and `manage.py run_scheduler` processes against the real
PostgreSQL and Redis, and records what ran in a file that neither Redis nor the JobRun table
(the things under test) can lose or invent. "Flushing Redis" empties the test's Redis database
(FLUSHDB on db 15): for the processes under test that is everything Redis held.
"""

import os
import signal
import time
from collections import Counter

import django_rq
import pytest
from rq import Worker

from core.models import JobRun
from core.tests import sample_jobs
from core.tests.test_scheduler_processes import wait_until

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()  # a zombie has stopped running
    except FileNotFoundError:
        return False


def test_after_redis_forgets_everything_a_second_scheduler_runs_no_slot_twice(
    spawn, subprocess_env, redis_conn, tmp_path
):
    runs_file = tmp_path / "runs.jsonl"
    env = subprocess_env | {
        "COINPILOT_SCHEDULE": "core.tests.sample_jobs.FILE_FAST",
        "RUNS_FILE": str(runs_file),
    }
    for _ in range(2):
        spawn("rqworker", "default", env=env)
    assert wait_until(lambda: len(Worker.all(connection=redis_conn)) == 2, timeout=60)
    spawn("run_scheduler", env=env)
    # flush while the slow job is in the middle of a run
    assert wait_until(lambda: JobRun.objects.filter(job="slow", status="running").exists(), timeout=30)
    redis_conn.flushdb()
    flushed_at = time.time()
    spawn("run_scheduler", env=env)  # a second scheduler that never saw the first one's claims

    time.sleep(14)

    runs = sample_jobs.file_runs(runs_file)
    per_slot = Counter((r["job"], r["slot"]) for r in runs if r["event"] == "start")
    assert per_slot and max(per_slot.values()) == 1, f"a slot ran twice: {per_slot}"
    later = [r for r in runs if r["event"] == "start" and r["at"] > flushed_at + 3]
    assert later, "nothing ran after the flush: the system did not recover"
    # the slow job never overlapped itself, though its Redis lock vanished mid-run
    slow = sorted((r["at"], r["event"]) for r in runs if r["job"] == "slow")
    depth = 0
    for _, event in slow:
        depth += 1 if event == "start" else -1
        assert depth <= 1, "two runs of the slow job overlapped"
    assert JobRun.objects.filter(job="slow", status="skipped").exists()  # skipped while running


def test_a_sigkilled_worker_takes_its_work_horse_along_is_alerted_and_blocks_no_later_slot(
    spawn, subprocess_env, redis_conn, tmp_path
):
    runs_file = tmp_path / "runs.jsonl"
    env = subprocess_env | {
        "COINPILOT_SCHEDULE": "core.tests.sample_jobs.KILLABLE",
        "RUNS_FILE": str(runs_file),
    }
    worker = spawn("rqworker", "default", env=env)
    spawn("run_scheduler", env=env)
    assert wait_until(lambda: sample_jobs.file_runs(runs_file), timeout=60)
    [first] = sample_jobs.file_runs(runs_file)
    horse = first["pid"]
    assert horse != worker.pid and alive(horse)

    os.kill(worker.pid, signal.SIGKILL)
    killed_at = time.time()

    assert wait_until(lambda: not alive(horse), timeout=5), "the work-horse outlived its worker"
    spawn("rqworker", "default", env=env)

    def alerted() -> bool:
        titles = [job.args[1].get("title") for job in django_rq.get_queue("notifications").jobs]
        return "Job killable died" in titles

    assert wait_until(alerted, timeout=40), "no system alert for the killed run"
    lost = JobRun.objects.get(job="killable", status="lost")
    assert lost.slot.isoformat() == first["slot"]
    assert wait_until(
        lambda: any(r["slot"] != first["slot"] for r in sample_jobs.file_runs(runs_file)), timeout=40
    ), "no later slot ran after the kill"
    later = next(r for r in sample_jobs.file_runs(runs_file) if r["slot"] != first["slot"])
    # the kill cost at most the heartbeat's stale time plus one 5 s slot, not the run's 120 s limit
    assert later["at"] - killed_at < 30
    assert not [r for r in sample_jobs.file_runs(runs_file) if r["event"] == "end" and r["pid"] == horse]


def test_the_bot_decides_each_bar_once_though_redis_forgets_and_a_second_scheduler_starts(
    spawn, subprocess_env, redis_conn
):
    """Rules that trade on every decision (buy when flat, sell when holding), a bot_cycle slot
    every 4 s (several slots per bar), two workers, Redis flushed after the first trade, a second
    scheduler: each bar gets one decision, so no two trades ever share a bar."""
    from datetime import timedelta

    from django.utils import timezone

    from conftest import store_minutes
    from market.candles import floor_minute
    from trading.models import SymbolState, Trade
    from trading.tests.test_cycle import trade_symbols

    trade_symbols("KRW-BTC")
    # bars through the next minute too, so a minute turning mid-test still has its bar
    store_minutes("KRW-BTC", 300, end=floor_minute(timezone.now()) + timedelta(minutes=2))
    env = subprocess_env | {
        "COINPILOT_SCHEDULE": "core.tests.sample_jobs.RESTLESS_BOT",
        "BOT_CYCLE_BAR_WAIT_SECONDS": "1",
    }
    for _ in range(2):
        spawn("rqworker", "bot", env=env)
    assert wait_until(lambda: len(Worker.all(connection=redis_conn)) == 2, timeout=60)
    spawn("run_scheduler", env=env)
    assert wait_until(Trade.objects.exists, timeout=40), "the bot never traded"
    redis_conn.flushdb()
    spawn("run_scheduler", env=env)

    time.sleep(12)

    runs = JobRun.objects.filter(job="bot_cycle", status="success")
    assert runs.count() >= 3, "too few cycles ran to prove anything"
    assert runs.count() == len({run.slot for run in runs})
    minutes = Counter(
        order_id.rsplit("-", 2)[-2] for order_id in Trade.objects.values_list("client_order_id", flat=True)
    )
    assert max(minutes.values()) == 1, (
        f"two trades on one bar: {list(Trade.objects.values_list('client_order_id'))}"
    )
    assert SymbolState.objects.get(symbol="KRW-BTC").last_decided_bar is not None
