"""Jobs and schedule tables used by the scheduler tests (imported by worker child processes too)."""

import json
import os
import time
from datetime import datetime

from coinpilot_site.redis_conn import get_redis
from coinpilot_site.scheduling import Schedule

RUNS_KEY = "test:runs"


def record(*, slot: datetime, sleep: float = 0.0, fail: bool = False) -> str:
    """Append (slot, pid, start, end) to a Redis list, optionally sleeping or failing."""
    started = time.time()
    if sleep:
        time.sleep(sleep)
    if fail:
        raise RuntimeError("boom on purpose")
    get_redis().rpush(
        RUNS_KEY,
        json.dumps({"slot": slot.isoformat(), "pid": os.getpid(), "start": started, "end": time.time()}),
    )
    return "recorded"


def runs() -> list[dict]:
    return [json.loads(raw) for raw in get_redis().lrange(RUNS_KEY, 0, -1)]


FAST = [
    Schedule(
        name="every2s",
        func="coinpilot_site.tests.sample_jobs.record",
        cron="* * * * * */2",
        grace=1,
        timeout=10,
    ),
    Schedule(
        name="slow",
        func="coinpilot_site.tests.sample_jobs.record",
        cron="* * * * * */2",
        grace=1,
        timeout=20,
        kwargs={"sleep": 3.5},
    ),
]

HOURLY = [
    Schedule(
        name="hourly", func="coinpilot_site.tests.sample_jobs.record", cron="0 * * * *", grace=300, timeout=60
    ),
    Schedule(
        name="kst_report",
        func="coinpilot_site.tests.sample_jobs.record",
        cron="0 22 * * *",
        tz="Asia/Seoul",
        grace=3600,
        timeout=60,
    ),
]

TIMEOUTS = [
    Schedule(
        name="too_slow",
        func="coinpilot_site.tests.sample_jobs.record",
        cron="* * * * *",
        grace=3600,
        timeout=1,
        kwargs={"sleep": 5},
    ),
    Schedule(
        name="failing",
        func="coinpilot_site.tests.sample_jobs.record",
        cron="* * * * *",
        grace=3600,
        timeout=10,
        kwargs={"fail": True},
    ),
    Schedule(
        name="fine", func="coinpilot_site.tests.sample_jobs.record", cron="* * * * *", grace=3600, timeout=10
    ),
]
