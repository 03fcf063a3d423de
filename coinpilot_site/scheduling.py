"""The slot scheduler: cron slots enqueued exactly once onto RQ, each run locked and recorded.

Why not rq's CronScheduler or rq-scheduler: with two scheduler processes they enqueue a slot
twice, they do not skip a slot while the previous run is still going, and they have no misfire
grace (see shared/research/libs.md section 1). The guarantees here:

- one decision per slot across every scheduler process: the first to claim the slot key in
  Redis (SET NX) enqueues it (with a deterministic job id and rq's `unique=True` as a second
  guard) or records that it skipped it;
- a slot that comes up while the job's lock is held is skipped, never queued behind it;
- only the most recent due slot is considered (coalescing), and only within its grace window;
- the worker-side wrapper re-checks staleness, takes the job's lock, enforces the time limit
  (rq job_timeout), and records a JobRun row plus Prometheus metrics.
"""

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import django_rq
from croniter import croniter
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from rq.exceptions import DuplicateJobError
from rq.timeouts import JobTimeoutException

from . import metrics
from .redis_conn import get_redis

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "coinpilot:scheduler:heartbeat"


@dataclass(frozen=True)
class Schedule:
    """One periodic job: what to call, when (cron in its own time zone), where and how long."""

    name: str
    func: str  # dotted path of a function taking `slot: datetime`
    cron: str  # 5 fields, or 6 with seconds last (croniter)
    tz: str = "UTC"
    queue: str = "default"
    grace: int = 30  # seconds after the slot during which it may still start
    timeout: int = 300  # hard time limit of one run, seconds
    description: str = ""
    kwargs: dict = field(default_factory=dict)

    @property
    def result_ttl(self) -> int:
        # The rq job hash is the `unique` guard: it must outlive the grace window.
        return max(3600, 2 * self.grace)

    def due_slot(self, now: datetime) -> datetime:
        """The most recent slot at or before `now`, in UTC."""
        local = now.astimezone(ZoneInfo(self.tz)).replace(microsecond=0) + timedelta(seconds=1)
        return croniter(self.cron, local).get_prev(datetime).astimezone(UTC)

    def next_slot(self, now: datetime) -> datetime:
        """The first slot strictly after `now`, in UTC."""
        local = now.astimezone(ZoneInfo(self.tz))
        return croniter(self.cron, local).get_next(datetime).astimezone(UTC)

    def job_id(self, slot: datetime) -> str:
        return f"sched-{self.name}-{slot:%Y%m%dT%H%M%SZ}"


def lock_key(name: str) -> str:
    return f"sched:lock:{name}"


def claim_key(job_id: str) -> str:
    return f"sched:claim:{job_id}"


def get_schedules() -> list[Schedule]:
    """The schedule table named by settings.COINPILOT_SCHEDULE."""
    return list(import_string(settings.COINPILOT_SCHEDULE))


def get_schedule(name: str) -> Schedule:
    for schedule in get_schedules():
        if schedule.name == name:
            return schedule
    raise KeyError(f"no schedule named {name!r} in {settings.COINPILOT_SCHEDULE}")


class SlotScheduler:
    """Decides, once per slot and across processes, whether to enqueue each due job."""

    def __init__(self, schedules: Iterable[Schedule]):
        self.schedules = list(schedules)
        self._decided: dict[str, datetime] = {}  # name -> last slot this process saw decided

    def tick(self, now: datetime | None = None) -> dict[str, str]:
        """Look at every schedule once; return {name: outcome} for the slots decided now."""
        now = now or timezone.now()
        outcomes = {}
        for schedule in self.schedules:
            slot = schedule.due_slot(now)
            if self._decided.get(schedule.name) == slot:
                continue
            if (now - slot).total_seconds() > schedule.grace:
                continue  # missed for good: never replayed
            outcome = self._decide(schedule, slot)
            self._decided[schedule.name] = slot
            metrics.SCHEDULER_TICKS.labels(schedule.name, outcome).inc()
            outcomes[schedule.name] = outcome
        return outcomes

    def _decide(self, schedule: Schedule, slot: datetime) -> str:
        conn = get_redis()
        job_id = schedule.job_id(slot)
        running = bool(conn.exists(lock_key(schedule.name)))
        verdict = "skipped-running" if running else "enqueued"
        if not conn.set(claim_key(job_id), verdict, nx=True, ex=schedule.result_ttl):
            return "duplicate"  # another scheduler decided this slot
        if running:
            log.warning("%s: slot %s skipped, previous run still going", schedule.name, slot)
            return verdict
        queue = django_rq.get_queue(schedule.queue, commit_mode="auto")
        try:
            queue.enqueue(
                run_scheduled,
                schedule.name,
                slot.isoformat(),
                job_id=job_id,
                unique=True,
                job_timeout=schedule.timeout,
                result_ttl=schedule.result_ttl,
                failure_ttl=7 * 86400,
                meta={"schedule": schedule.name, "slot": slot.isoformat()},
                description=f"{schedule.name} @ {slot:%Y-%m-%d %H:%M:%S}Z",
            )
        except DuplicateJobError:
            return "duplicate"
        except Exception:
            conn.delete(claim_key(job_id))  # let this or another scheduler try again
            raise
        return verdict

    def run_forever(self, should_stop: Callable[[], bool]) -> None:
        """Tick about once a second until `should_stop()`; publish a heartbeat each tick."""
        beat = {"pid": os.getpid(), "host": socket.gethostname()}
        while not should_stop():
            try:
                outcomes = self.tick()
                for name, outcome in outcomes.items():
                    log.info("scheduler: %s -> %s", name, outcome)
                beat["at"] = timezone.now().isoformat()
                get_redis().set(HEARTBEAT_KEY, json.dumps(beat), ex=settings.SCHEDULER_HEARTBEAT_TTL)
            except Exception:
                log.exception("scheduler tick failed; retrying next second")
            time.sleep(1.0 - (time.time() % 1.0) + 0.05)


def enqueue_now(name: str):
    """Queue one run of a schedule outside its slots (same lock, limit and record as any run)."""
    schedule = get_schedule(name)
    queue = django_rq.get_queue(schedule.queue, commit_mode="auto")
    slot = timezone.now()
    return queue.enqueue(
        run_scheduled,
        name,
        slot.isoformat(),
        job_timeout=schedule.timeout,
        result_ttl=schedule.result_ttl,
        description=f"{name} (on demand)",
    )


def run_scheduled(name: str, slot_iso: str) -> str:
    """Executed by the RQ worker: run one slot of a schedule under its lock and record it."""
    from .models import JobRun  # models load after apps are ready

    schedule = get_schedule(name)
    slot = datetime.fromisoformat(slot_iso)
    late = (timezone.now() - slot).total_seconds()
    if late > schedule.grace:
        # A stale tick must not act (a bot cycle from 5 minutes ago must not trade).
        metrics.JOB_RUNS.labels(name, "skipped_stale").inc()
        JobRun.record_skip(name, slot, f"started {late:.0f}s after its slot (grace {schedule.grace}s)")
        return "skipped-stale"
    lock = get_redis().lock(lock_key(name), timeout=schedule.timeout + 30, blocking=False)
    if not lock.acquire():
        metrics.JOB_RUNS.labels(name, "skipped_overlap").inc()
        JobRun.record_skip(name, slot, "previous run still holds the lock")
        return "skipped-overlap"
    try:
        return _run_locked(schedule, slot, JobRun)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: S110  (expired while running: nothing left to release)
            pass


def _run_locked(schedule: Schedule, slot: datetime, job_run_model) -> str:
    started = time.monotonic()
    run = None
    try:
        job_run_model.mark_lost(schedule.name)  # we hold the lock, so nothing else is running
        run = job_run_model.start(schedule.name, slot, worker=os.environ.get("RQ_WORKER_ID", ""))
        summary = import_string(schedule.func)(slot=slot, **schedule.kwargs)
    except JobTimeoutException:
        _fail(run, schedule, slot, started, "timeout", f"exceeded {schedule.timeout}s")
        raise
    except Exception as exc:
        _fail(run, schedule, slot, started, "failure", f"{type(exc).__name__}: {exc}")
        raise
    summary = "" if summary is None else str(summary)
    _finish(run, schedule, started, "success", summary)
    return summary or "ok"


def _fail(run, schedule: Schedule, slot: datetime, started: float, status: str, message: str) -> None:
    """Record and alert a failed run; the alert goes out even when the database is what failed."""
    from .notify import notify

    try:
        _finish(run, schedule, started, status, message)
    except Exception:
        log.exception("%s: could not record the %s", schedule.name, status)
    verb = "timed out" if status == "timeout" else "failed"
    notify("system", {"title": f"Job {schedule.name} {verb}", "slot": slot.isoformat(), "detail": message})


def _finish(run, schedule: Schedule, started: float, status: str, message: str) -> None:
    seconds = time.monotonic() - started
    metrics.JOB_DURATION.labels(schedule.name).observe(seconds)
    metrics.JOB_RUNS.labels(schedule.name, status).inc()
    if status == "success":
        metrics.JOB_LAST_SUCCESS.labels(schedule.name).set(time.time())
    if run is not None:
        run.finish(status, seconds, message)
