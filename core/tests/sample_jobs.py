"""Jobs and schedule tables used by the scheduler tests (imported by worker child processes too)."""

import json
import os
import time
from datetime import datetime

from core.redis_conn import get_redis
from core.scheduling import Schedule

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


def outlive_the_lock(*, slot: datetime, seconds: float) -> str:
    """Sleep past the run lock's time to live, then tell how long the lock has left (ms)."""
    from core.scheduling import lock_key

    time.sleep(seconds)
    return f"lock ttl {get_redis().pttl(lock_key('outlive'))}"


def already_imported(names: list[str]) -> list[str]:
    """Which of `names` the work horse had when the job started (inherited from its worker)."""
    import sys

    return [name for name in names if name in sys.modules]


def runs() -> list[dict]:
    return [json.loads(raw) for raw in get_redis().lrange(RUNS_KEY, 0, -1)]


FAST = [
    Schedule(
        name="every2s",
        func="core.tests.sample_jobs.record",
        cron="* * * * * */2",
        grace=1,
        timeout=10,
    ),
    Schedule(
        name="slow",
        func="core.tests.sample_jobs.record",
        cron="* * * * * */2",
        grace=1,
        timeout=20,
        kwargs={"sleep": 3.5},
    ),
]

HOURLY = [
    Schedule(name="hourly", func="core.tests.sample_jobs.record", cron="0 * * * *", grace=300, timeout=60),
    Schedule(
        name="kst_report",
        func="core.tests.sample_jobs.record",
        cron="0 22 * * *",
        tz="Asia/Seoul",
        grace=3600,
        timeout=60,
    ),
]

LONG = [
    Schedule(
        name="outlive",
        func="core.tests.sample_jobs.outlive_the_lock",
        cron="* * * * *",
        grace=3600,
        timeout=30,
        kwargs={"seconds": 2.5},
    ),
]

TIMEOUTS = [
    Schedule(
        name="too_slow",
        func="core.tests.sample_jobs.record",
        cron="* * * * *",
        grace=3600,
        timeout=1,
        kwargs={"sleep": 5},
    ),
    Schedule(
        name="failing",
        func="core.tests.sample_jobs.record",
        cron="* * * * *",
        grace=3600,
        timeout=10,
        kwargs={"fail": True},
    ),
    Schedule(name="fine", func="core.tests.sample_jobs.record", cron="* * * * *", grace=3600, timeout=10),
]


def record_to_file(*, slot: datetime, job: str, sleep: float = 0.0) -> str:
    """Append start and end lines (slot, pid) to the file named by RUNS_FILE: a record of what ran
    that neither Redis nor the JobRun table (the things under test) can lose or invent."""
    path = os.environ["RUNS_FILE"]
    line = {"job": job, "slot": slot.isoformat(), "pid": os.getpid(), "at": time.time()}
    with open(path, "a") as out:
        out.write(json.dumps(line | {"event": "start"}) + "\n")
    if sleep:
        time.sleep(sleep)
    with open(path, "a") as out:
        out.write(json.dumps(line | {"event": "end", "at": time.time()}) + "\n")
    return "recorded"


def file_runs(path) -> list[dict]:
    try:
        with open(path) as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []


FILE_FAST = [
    Schedule(
        name="every2s",
        func="core.tests.sample_jobs.record_to_file",
        cron="* * * * * */2",
        grace=1,
        timeout=10,
        kwargs={"job": "every2s"},
    ),
    Schedule(
        name="slow",
        func="core.tests.sample_jobs.record_to_file",
        cron="* * * * * */2",
        grace=1,
        timeout=20,
        kwargs={"job": "slow", "sleep": 3.5},
    ),
]

KILLABLE = [
    Schedule(
        name="killable",
        func="core.tests.sample_jobs.record_to_file",
        cron="* * * * * */5",
        grace=2,
        timeout=120,
        kwargs={"job": "killable", "sleep": 25},
    ),
]


def restless_bot_cycle(*, slot: datetime) -> str:
    """The real scheduled bot cycle with rules that want to trade on every decision: buy when
    flat, sell when holding. Any second decision on a bar would therefore be a second trade."""
    from trading import cycle, jobs
    from trading.strategy import Signal

    def entry(bars, regime, params, values=None) -> Signal:
        return Signal("BUY", "ENTRY", "restless test rule", {"close": float(bars.close[-1])})

    def exit_(bars, trade, regime, params) -> Signal:
        close = float(bars.close[-1])
        return Signal("SELL", "STOP_LOSS", "restless test rule", {"close": close}, "STOP_LOSS", close)

    cycle.entry_signal, cycle.exit_signal = entry, exit_
    return jobs.bot_cycle(slot=slot)


RESTLESS_BOT = [
    Schedule(
        name="bot_cycle",
        func="core.tests.sample_jobs.restless_bot_cycle",
        cron="* * * * * */4",  # several slots on every bar
        queue="bot",
        grace=3,
        timeout=30,
    ),
]
