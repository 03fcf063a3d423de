"""Infrastructure jobs."""

import json
import os
from datetime import datetime

from django.utils import timezone

from .redis_conn import get_redis

HEARTBEAT_JOB_KEY = "coinpilot:heartbeat:last"


def heartbeat(*, slot: datetime) -> str:
    """Record that a worker ran this slot (shown on the System page)."""
    worker = os.environ.get("RQ_WORKER_ID", "in-process")
    get_redis().set(
        HEARTBEAT_JOB_KEY,
        json.dumps({"slot": slot.isoformat(), "ran_at": timezone.now().isoformat(), "worker": worker}),
    )
    return f"alive on {worker}"
