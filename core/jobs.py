"""Infrastructure jobs."""

import json
import os
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import JobRun
from .redis_conn import get_redis
from .scheduling import get_schedules

HEARTBEAT_JOB_KEY = "coinpilot:heartbeat:last"


def heartbeat(*, slot: datetime) -> str:
    """Record that a worker ran this slot (shown on the System page)."""
    worker = os.environ.get("RQ_WORKER_ID", "in-process")
    get_redis().set(
        HEARTBEAT_JOB_KEY,
        json.dumps({"slot": slot.isoformat(), "ran_at": timezone.now().isoformat(), "worker": worker}),
    )
    return f"alive on {worker}"


FORGET_BATCH = 5000


def forget_old_job_runs(*, slot: datetime) -> str:
    """Delete the job runs older than JOB_RUNS_KEEP_DAYS but each job's latest (three jobs run every
    minute: 1.6M rows a year that nothing reads). A batch at a time: the first run after a long
    while holds no long lock."""
    cutoff = slot - timedelta(days=settings.JOB_RUNS_KEEP_DAYS)
    keep = [run.pk for run in JobRun.latest_per_job([s.name for s in get_schedules()], cutoff)]
    old = JobRun.objects.filter(started_at__lt=cutoff).exclude(pk__in=keep).order_by()
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:FORGET_BATCH]):
        deleted += JobRun.objects.filter(pk__in=batch).delete()[0]
    return f"{deleted} runs from before {timezone.localtime(cutoff):%Y-%m-%d %H:%M} KST deleted"
