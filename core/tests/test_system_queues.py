"""The System page's queue table: waiting, running and failed jobs per queue, read without side
effects (rq's own counts run a registry cleanup that fails abandoned jobs)."""

import time

import django_rq
import pytest
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
