"""What the System page shows about the machinery: scheduler, workers, queues, job runs."""

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from .models import JobRun
from .redis_conn import get_redis
from .scheduling import HEARTBEAT_KEY, get_schedules


def check_database() -> str | None:
    """None when the database answers, else the error text."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_redis() -> str | None:
    """None when Redis answers, else the error text."""
    try:
        get_redis().ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def scheduler_status(now: datetime | None = None) -> dict:
    """The scheduler's last heartbeat and whether it is recent enough to call it alive."""
    now = now or timezone.now()
    raw = get_redis().get(HEARTBEAT_KEY)
    if not raw:
        return {"alive": False, "at": None, "age_s": None, "pid": None, "host": None}
    beat = json.loads(raw)
    at = datetime.fromisoformat(beat["at"])
    age = (now - at).total_seconds()
    return {
        "alive": age <= settings.SCHEDULER_HEARTBEAT_TTL,
        "at": at,
        "age_s": round(age, 1),
        "pid": beat.get("pid"),
        "host": beat.get("host"),
    }


def workers() -> list[dict]:
    """Every RQ worker registered in Redis (they expire when they stop heart-beating)."""
    rows = []
    for worker in Worker.all(connection=get_redis()):
        rows.append(
            {
                "name": worker.name,
                "state": worker.get_state(),
                "queues": ", ".join(worker.queue_names()),
                "last_heartbeat": worker.last_heartbeat,
                "successful": worker.successful_job_count,
                "failed": worker.failed_job_count,
            }
        )
    return sorted(rows, key=lambda row: row["name"])


def queues() -> list[dict]:
    """Per queue: jobs waiting, running and failed, read in one round trip.

    Registry entries are scored by their expiry, so live ones are those scored after now. rq's
    own `.count` runs the registry cleanup first (which fails abandoned jobs and runs their
    callbacks): the workers do that; a page view must not.
    """
    now = time.time()
    pipe = get_redis().pipeline(transaction=False)
    for name in settings.RQ_QUEUE_NAMES:
        pipe.llen(Queue.redis_queue_namespace_prefix + name)
        pipe.zcount(StartedJobRegistry.key_template.format(name), now, "+inf")
        pipe.zcount(FailedJobRegistry.key_template.format(name), now, "+inf")
    counts = pipe.execute()
    return [
        {"name": name, "queued": counts[3 * i], "running": counts[3 * i + 1], "failed": counts[3 * i + 2]}
        for i, name in enumerate(settings.RQ_QUEUE_NAMES)
    ]


@dataclass
class JobHealth:
    name: str
    cron: str
    tz: str
    queue: str
    description: str
    next_slot: datetime
    last_run: JobRun | None
    failures_24h: int
    runs_24h: int


def job_health(now: datetime | None = None) -> list[JobHealth]:
    """Per scheduled job: next slot, the latest run, and the last 24 hours' failures."""
    now = now or timezone.now()
    schedules = get_schedules()
    since = now - timedelta(hours=24)
    latest = {run.job: run for run in JobRun.latest_per_job([s.name for s in schedules], since)}
    return [
        JobHealth(
            name=s.name,
            cron=s.cron,
            tz=s.tz,
            queue=s.queue,
            description=s.description,
            next_slot=s.next_slot(now),
            last_run=run,
            failures_24h=run.failures_since if run else 0,
            runs_24h=run.runs_since if run else 0,
        )
        for s in schedules
        for run in [latest.get(s.name)]
    ]


def notifications_summary(now: datetime | None = None) -> dict:
    """Alerts of the last 24 hours (Discord and Telegram): which channels are on, counts by status,
    the latest failures, what waits."""
    from .models import NotificationLog
    from .notifications import config, outbox

    now = now or timezone.now()
    recent = NotificationLog.objects.filter(created_at__gte=now - timezone.timedelta(hours=24))
    counts = dict(recent.values_list("status").annotate(n=Count("id")))
    try:
        waiting = sum(outbox.pending().values())
    except Exception:
        waiting = None  # Redis down: the Stores card says so
    discord = bool(config.configured_urls())
    # Telegram sends only with a bot token and at least one chat (config.telegram_chats).
    telegram_chats = len(settings.TELEGRAM_ALERT_CHAT_IDS) if settings.TELEGRAM_BOT_TOKEN else 0
    return {
        "enabled": discord or bool(telegram_chats),
        "discord": discord,
        "telegram_chats": telegram_chats,
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "waiting": waiting,
        "failures": list(recent.filter(status="failed")[:5]) if counts.get("failed") else [],
    }
