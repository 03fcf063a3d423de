"""The slot scheduler: cron slots enqueued exactly once onto RQ, each run locked and recorded.

Why not rq's CronScheduler or rq-scheduler: with two scheduler processes they enqueue a slot
twice, they do not skip a slot while the previous run is still going, and they have no misfire
grace (docs/decisions.md). The guarantees here:

- one decision per slot across every scheduler process, even after Redis lost everything: the
  scheduler inserts the slot's JobRun row (unique claim) before it enqueues it; a second
  scheduler's insert fails and it does nothing; the worker moves the row from queued to running
  in one conditional UPDATE, so a slot can never run twice;
- a slot that comes up while the job runs is skipped (a JobRun row says so), never queued
  behind it; "runs" means the Redis lock is held or a JobRun row renewed its heartbeat lately;
- a run renews its lock and heartbeat every few seconds: a killed run stops blocking the next
  slot within JOB_HEARTBEAT_STALE_SECONDS, and the scheduler marks it lost and alerts;
- only the most recent due slot is considered (coalescing), and only within its grace window;
- the worker-side wrapper re-checks staleness, enforces the time limit (rq job_timeout) and
  records the outcome plus Prometheus metrics.
"""

import json
import logging
import os
import socket
import threading
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
from django.utils.translation import gettext as _
from redis.exceptions import LockError
from rq.exceptions import DuplicateJobError
from rq.timeouts import JobTimeoutException

from . import metrics
from .logging_context import log_context
from .redis_conn import get_redis

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "coinpilot:scheduler:heartbeat"
SKIPPED_RUNNING = "previous run still going when the slot came up"
NEVER_STARTED = "queued but no worker started it within its grace (queue lost or no worker up)"
NEVER_STARTED_MARGIN = 30  # seconds beyond the grace before a queued slot is given up
SWEEP_EVERY_S = 5


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
        """The first slot strictly after `now`, in UTC.

        Remembered per cron and zone until that slot: for every `now` from the moment it was
        computed for up to the slot itself the answer is the same (no slot lies between), so the
        System page does not parse every cron expression on every request."""
        known = _next_slots.get((self.cron, self.tz))
        if known is not None and known[0] <= now < known[1]:
            return known[1]
        local = now.astimezone(ZoneInfo(self.tz))
        slot = croniter(self.cron, local).get_next(datetime).astimezone(UTC)
        _next_slots[(self.cron, self.tz)] = (now, slot)
        return slot

    def job_id(self, slot: datetime) -> str:
        return f"sched-{self.name}-{slot:%Y%m%dT%H%M%SZ}"


# (cron, tz) -> (the moment a next slot was computed for, that slot); see Schedule.next_slot.
_next_slots: dict[tuple[str, str], tuple[datetime, datetime]] = {}


def lock_key(name: str) -> str:
    return f"sched:lock:{name}"


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
            with log_context(job_name=schedule.name, slot=slot.isoformat()):
                outcome = self._decide(schedule, slot)
            self._decided[schedule.name] = slot
            metrics.SCHEDULER_TICKS.labels(schedule.name, outcome).inc()
            outcomes[schedule.name] = outcome
        return outcomes

    def _decide(self, schedule: Schedule, slot: datetime) -> str:
        from .models import JobRun

        job_id = schedule.job_id(slot)
        running = bool(get_redis().exists(lock_key(schedule.name))) or JobRun.running_alive(schedule.name)
        if running:
            claimed = JobRun.claim_slot(
                schedule.name, slot, job_id, status=JobRun.Status.SKIPPED, message=SKIPPED_RUNNING
            )
            if claimed is None:
                return "duplicate"  # another scheduler decided this slot
            log.warning("%s: slot %s skipped, previous run still going", schedule.name, slot)
            return "skipped-running"
        claimed = JobRun.claim_slot(schedule.name, slot, job_id, status=JobRun.Status.QUEUED)
        if claimed is None:
            return "duplicate"
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
            claimed.delete()  # nothing was queued: let this or another scheduler try again
            raise
        return "enqueued"

    def sweep(self, now: datetime | None = None) -> list[str]:
        """Close dead runs (alerting each once) and slots queued but never started in time."""
        from .models import JobRun

        now = now or timezone.now()
        closed = []
        for run in JobRun.mark_lost(now=now):
            alert_lost(run)
            closed.append(f"{run.job}@{run.slot:%H:%M:%S} lost")
        # queued, yet no worker started it within its grace: the queue was lost or no worker is
        # up; the slot is over either way (a late start would skip it as stale). One query for
        # every job: only the few queued rows come back, each checked against its own grace.
        grace = {schedule.name: schedule.grace for schedule in self.schedules}
        queued = JobRun.objects.filter(job__in=grace, status=JobRun.Status.QUEUED)
        for job, slot, claim in queued.values_list("job", "slot", "claim"):
            if slot < now - timedelta(seconds=grace[job] + NEVER_STARTED_MARGIN):
                JobRun.record_skip(job, now, NEVER_STARTED, claim=claim)
                closed.append(f"{claim} never started")
        return closed

    def run_forever(self, should_stop: Callable[[], bool]) -> None:
        """Tick about once a second until `should_stop()`; publish a heartbeat each tick."""
        beat = {"pid": os.getpid(), "host": socket.gethostname()}
        last_sweep = 0.0
        while not should_stop():
            try:
                outcomes = self.tick()
                for name, outcome in outcomes.items():
                    log.info("scheduler: %s -> %s", name, outcome)
                if time.monotonic() - last_sweep >= SWEEP_EVERY_S:
                    last_sweep = time.monotonic()
                    for line in self.sweep():
                        log.warning("scheduler: %s", line)
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
        on_demand=True,
        job_timeout=schedule.timeout,
        result_ttl=schedule.result_ttl,
        description=f"{name} (on demand)",
    )


def run_scheduled(name: str, slot_iso: str, on_demand: bool = False) -> str:
    """Executed by the RQ worker: run one slot of a schedule under its lock and record it."""
    from .models import JobRun  # models load after apps are ready

    schedule = get_schedule(name)
    slot = datetime.fromisoformat(slot_iso)
    claim = None if on_demand else schedule.job_id(slot)
    late = (timezone.now() - slot).total_seconds()
    if late > schedule.grace:
        # A stale tick must not act (a bot cycle from 5 minutes ago must not trade).
        metrics.JOB_RUNS.labels(name, "skipped_stale").inc()
        JobRun.record_skip(
            name, slot, f"started {late:.0f}s after its slot (grace {schedule.grace}s)", claim=claim
        )
        return "skipped-stale"
    # Not thread-local: the run's Heartbeat thread extends the lock this thread takes (redis-py
    # keeps a thread-local lock's token in the taking thread only, so another thread cannot renew it).
    lock = get_redis().lock(
        lock_key(name), timeout=settings.JOB_HEARTBEAT_STALE_SECONDS, blocking=False, thread_local=False
    )
    try:
        run = _prepare(name, slot, claim, lock)
    except Exception as exc:  # the database or Redis is down: say so, the next slot tries again
        _alert_failure(name, slot, False, f"{type(exc).__name__}: {exc}")
        _release(lock)
        raise
    if isinstance(run, str):
        _release(lock)
        return run
    try:
        with Heartbeat(run, lock):
            return _run_locked(schedule, slot, run)
    finally:
        _release(lock)


def _prepare(name: str, slot: datetime, claim: str | None, lock):
    """Take the job's lock and move the slot's row to running; or say why not (a str)."""
    from .models import JobRun

    for lost in JobRun.mark_lost(name):  # a dead earlier run must not block this one
        alert_lost(lost)
    if not lock.acquire():
        return _skip_overlap(name, slot, claim, "previous run still holds the lock")
    if JobRun.running_alive(name):  # Redis forgot the lock, the database did not
        return _skip_overlap(name, slot, claim, "previous run is still alive (its heartbeat is fresh)")
    run = _begin(name, slot, claim)
    if run is None:
        metrics.JOB_RUNS.labels(name, "duplicate").inc()
        return "duplicate"  # this slot already ran or runs: never twice
    return run


def _release(lock) -> None:
    try:
        lock.release()
    except Exception:  # noqa: S110  (expired or flushed: nothing left to release)
        pass


def _skip_overlap(name: str, slot: datetime, claim: str | None, reason: str) -> str:
    from .models import JobRun

    metrics.JOB_RUNS.labels(name, "skipped_overlap").inc()
    JobRun.record_skip(name, slot, reason, claim=claim)
    return "skipped-overlap"


def _begin(name: str, slot: datetime, claim: str | None):
    """This slot's row, now running; None when the slot already ran (or runs) elsewhere."""
    from .models import JobRun

    worker = os.environ.get("RQ_WORKER_ID", "")
    if claim is None:
        return JobRun.start(name, slot, worker=worker)
    if not JobRun.objects.filter(claim=claim).exists():
        # queued without a claim row (by a scheduler of an older version): claim it now
        JobRun.claim_slot(name, slot, claim, status=JobRun.Status.QUEUED)
    if not JobRun.begin_claimed(claim, worker=worker):
        return None
    return JobRun.objects.get(claim=claim)


class Heartbeat:
    """While a run lasts, renew its Redis lock and its JobRun heartbeat every few seconds.

    The lock's time to live is short (JOB_HEARTBEAT_STALE_SECONDS), so a run that dies stops
    blocking the next slot at once instead of after its whole time limit. A lock that Redis
    lost is taken again when nobody else holds it.
    """

    def __init__(self, run, lock):
        self.run, self.lock = run, lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run.job}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                self._renew()
        finally:
            connection.close()  # this thread's own database connection

    def _renew(self) -> None:
        try:
            self.run.beat()
        except Exception:
            log.warning("%s: could not renew the run's heartbeat", self.run.job, exc_info=True)
        try:
            if not self.lock.extend(settings.JOB_HEARTBEAT_STALE_SECONDS, replace_ttl=True):
                self.lock.acquire(blocking=False)
        except LockError:
            self.lock.acquire(blocking=False)  # flushed: take it back if it is free
        except Exception:
            log.warning("%s: could not renew the run's lock", self.run.job, exc_info=True)


def alert_lost(run) -> None:
    from .notify import alert_language, notify

    log.error("%s: run of slot %s lost: %s", run.job, run.slot, run.message)
    metrics.JOB_RUNS.labels(run.job, "lost").inc()
    with alert_language():
        title = _("Job %(name)s died") % {"name": run.job}
    notify("system", {"title": title, "slot": run.slot.isoformat(), "detail": run.message})


def _run_locked(schedule: Schedule, slot: datetime, run) -> str:
    started = time.monotonic()
    try:
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
    try:
        _finish(run, schedule, started, status, message)
    except Exception:
        log.exception("%s: could not record the %s", schedule.name, status)
    _alert_failure(schedule.name, slot, status == "timeout", message)


def _alert_failure(name: str, slot: datetime, timed_out: bool, message: str) -> None:
    from .notify import alert_language, notify

    with alert_language():
        title = (_("Job %(name)s timed out") if timed_out else _("Job %(name)s failed")) % {"name": name}
    notify("system", {"title": title, "slot": slot.isoformat(), "detail": message})


def _finish(run, schedule: Schedule, started: float, status: str, message: str) -> None:
    seconds = time.monotonic() - started
    metrics.JOB_DURATION.labels(schedule.name).observe(seconds)
    metrics.JOB_RUNS.labels(schedule.name, status).inc()
    if status == "success":
        metrics.JOB_LAST_SUCCESS.labels(schedule.name).set(time.time())
    run.finish(status, seconds, message)
