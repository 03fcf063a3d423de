"""The System page's queue table: waiting, running and failed jobs per queue, read without side
effects (rq's own counts run a registry cleanup that fails abandoned jobs)."""

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.registry import StartedJobRegistry

from core import system

pytestmark = pytest.mark.django_db(transaction=True)  # django-rq enqueues on commit


def broken() -> None:
    raise RuntimeError("boom")


def test_counts_per_queue(redis_conn, run_jobs):
    queue = django_rq.get_queue("default")
    queue.enqueue(broken)
    run_jobs("default")  # fails: lands in the failed registry
    queue.enqueue(time.sleep, 0)
    queue.enqueue(time.sleep, 0)
    started = StartedJobRegistry(queue=queue)
    redis_conn.zadd(started.key, {"live:1": time.time() + 60, "abandoned:1": time.time() - 60})
    rows = {row["name"]: row for row in system.queues()}
    assert rows["default"] == {"name": "default", "queued": 2, "running": 1, "failed": 1}
    assert rows["bot"] == {"name": "bot", "queued": 0, "running": 0, "failed": 0}
    assert redis_conn.zcard(started.key) == 2  # the page view cleaned nothing up


def test_each_jobs_latest_run_and_its_last_24_hours():
    from core.models import JobRun

    now = timezone.now()

    def run(job: str, minutes_ago: int, status: str = "success") -> JobRun:
        at = now - timedelta(minutes=minutes_ago)
        return JobRun.objects.create(job=job, slot=at, status=status, started_at=at)

    run("bot_cycle", 60 * 25, "failure")  # older than 24 hours: not counted
    run("bot_cycle", 30, "timeout")
    run("bot_cycle", 20, "lost")
    latest = run("bot_cycle", 10)
    run("bot_cycle", 5, "queued")  # queued after the latest run started: by start time, not by id
    JobRun.objects.filter(pk=latest.pk).update(started_at=now - timedelta(minutes=1))
    run("daily_report", 60 * 48, "failure")
    run("no_such_schedule", 1)

    health = {job.name: job for job in system.job_health(now)}
    cycle = health["bot_cycle"]
    assert (cycle.last_run.pk, cycle.runs_24h, cycle.failures_24h) == (latest.pk, 4, 2)
    report = health["daily_report"]
    assert (report.last_run.status, report.runs_24h, report.failures_24h) == ("failure", 0, 0)
    assert health["heartbeat"].last_run is None and health["heartbeat"].runs_24h == 0
    assert "no_such_schedule" not in health
