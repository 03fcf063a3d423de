"""The scheduler guarantees with real processes: two schedulers, two forking workers, real Redis."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from rq import Worker

from core.models import JobRun
from core.scheduling import SlotScheduler
from core.tests import sample_jobs

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


OUTCOMES = [("fine", "success"), ("too_slow", "timeout"), ("failing", "failure")]


def scraped(job: str, outcome: str) -> float:
    """A job-run counter as the web /metrics endpoint reports it (0 when absent)."""
    body = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    match = re.search(rf'coinpilot_job_runs_total{{job="{job}",outcome="{outcome}"}} ([0-9.]+)', body)
    return float(match.group(1)) if match else 0.0


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_two_schedulers_and_two_workers_run_each_slot_once_without_overlap(spawn, subprocess_env, redis_conn):
    env = subprocess_env | {"COINPILOT_SCHEDULE": "core.tests.sample_jobs.FAST"}
    for _ in range(2):
        spawn("rqworker", "default", env=env)
    # measure from the moment both workers are up (start-up takes seconds on a busy machine)
    assert wait_until(lambda: len(Worker.all(connection=redis_conn)) == 2, timeout=60)
    for _ in range(2):
        spawn("run_scheduler", env=env)
    assert wait_until(lambda: JobRun.objects.filter(job="every2s").exists(), timeout=60)

    time.sleep(14)

    runs = sample_jobs.runs()
    every2s = list(JobRun.objects.filter(job="every2s", status="success").values_list("slot", flat=True))
    assert len(every2s) >= 4, f"too few runs: {every2s}"
    assert len(every2s) == len(set(every2s)), "a slot ran twice"

    slow = sorted((r["start"], r["end"]) for r in runs if r["end"] - r["start"] >= 3)
    assert len(slow) >= 2
    for (_, end), (next_start, _) in zip(slow, slow[1:], strict=False):
        assert next_start >= end, "two runs of the slow job overlapped"
    # slots that came up while the slow job ran were skipped by the schedulers, not queued behind it
    assert JobRun.objects.filter(job="slow", status="skipped").count() >= 2
    assert JobRun.objects.filter(job="slow", status="success").count() == len(slow)


def test_time_limit_failure_and_success_are_recorded_by_a_forking_worker(spawn, subprocess_env, settings):
    settings.COINPILOT_SCHEDULE = "core.tests.sample_jobs.TIMEOUTS"
    env = subprocess_env | {"COINPILOT_SCHEDULE": settings.COINPILOT_SCHEDULE}
    before = {labels: scraped(*labels) for labels in OUTCOMES}
    now = datetime.now(UTC)
    outcomes = SlotScheduler(sample_jobs.TIMEOUTS).tick(now)
    assert set(outcomes.values()) == {"enqueued"}

    worker = spawn("rqworker", "default", "--burst", env=env)
    worker.wait(timeout=60)

    statuses = dict(JobRun.objects.values_list("job", "status"))
    assert statuses == {"too_slow": "timeout", "failing": "failure", "fine": "success"}
    assert JobRun.objects.get(job="too_slow").duration_ms < 4000  # killed at its 1 s limit
    assert [r["slot"][:16] for r in sample_jobs.runs()] == [
        SlotScheduler(sample_jobs.TIMEOUTS).schedules[2].due_slot(now).isoformat()[:16]
    ]

    # what the forked work horses counted is visible on the web process's /metrics
    assert {labels: scraped(*labels) - before[labels] for labels in OUTCOMES} == dict.fromkeys(OUTCOMES, 1.0)


def test_scheduler_process_publishes_a_heartbeat_and_stops_on_sigterm(spawn, subprocess_env):
    scheduler = spawn("run_scheduler", env=subprocess_env)

    from core.system import scheduler_status

    assert wait_until(lambda: scheduler_status()["alive"], timeout=20)
    assert scheduler_status()["pid"] == scheduler.pid
    scheduler.terminate()
    assert scheduler.wait(timeout=10) == 0
    later = datetime.now(UTC) + timedelta(seconds=20)
    assert not scheduler_status(now=later)["alive"]
