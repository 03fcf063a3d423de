"""Gauges of the machinery read at scrape time by the web `/metrics` view
(settings.COINPILOT_METRICS_COLLECTORS): scheduler heartbeat, Redis, queues, database disk.

Each fact is read when Prometheus asks, so a dead scheduler or worker cannot leave a stale value
behind. A store that does not answer drops its gauges (and sets its `_up` gauge to 0) instead of
failing the whole scrape.
"""

import json
import os
import shutil
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from . import system
from .redis_conn import get_redis
from .scheduling import HEARTBEAT_KEY

QUEUE_STATES = ("queued", "running", "failed")


class OperationsCollector:
    def collect(self):
        redis_ok = system.check_redis() is None
        yield GaugeMetricFamily("coinpilot_redis_up", "1 when Redis answers a PING", value=float(redis_ok))
        if redis_ok:
            yield from redis_gauges()
        database_ok = system.check_database() is None
        yield GaugeMetricFamily(
            "coinpilot_database_up", "1 when the database answers SELECT 1", value=float(database_ok)
        )
        if database_ok:
            yield from database_gauges()


def redis_gauges():
    yield GaugeMetricFamily(
        "coinpilot_scheduler_heartbeat_age_seconds",
        "Seconds since the scheduler's last heartbeat (+Inf: none in Redis, the scheduler is down)",
        value=heartbeat_age(get_redis().get(HEARTBEAT_KEY), timezone.now()),
    )
    jobs = GaugeMetricFamily("coinpilot_queue_jobs", "RQ jobs per queue and state", labels=["queue", "state"])
    for row in system.queues():
        for state in QUEUE_STATES:
            jobs.add_metric([row["name"], state], row[state])
    yield jobs
    policy = eviction_policy()
    if policy is not None:
        info = GaugeMetricFamily(
            "coinpilot_redis_maxmemory_policy",
            "Redis maxmemory-policy (always 1; the policy is the label). Must be noeviction.",
            labels=["policy"],
        )
        info.add_metric([policy], 1.0)
        yield info


def heartbeat_age(raw: bytes | str | None, now: datetime) -> float:
    """Age of a heartbeat record in seconds; +Inf without one (its key expires with the scheduler)."""
    if not raw:
        return float("inf")
    return max((now - datetime.fromisoformat(json.loads(raw)["at"])).total_seconds(), 0.0)


def eviction_policy() -> str | None:
    """Redis' maxmemory-policy, or None where CONFIG is refused (managed Redis) or unknown."""
    try:
        return str(get_redis().config_get("maxmemory-policy")["maxmemory-policy"])
    except Exception:
        return None


def database_gauges():
    size = database_size_bytes()
    if size is not None:
        yield GaugeMetricFamily("coinpilot_database_size_bytes", "Size of the database, bytes", value=size)
    path = database_disk_path()
    if path is not None:
        usage = shutil.disk_usage(path)
        yield GaugeMetricFamily(
            "coinpilot_database_disk_free_bytes", "Free bytes on the database's disk", value=usage.free
        )
        yield GaugeMetricFamily(
            "coinpilot_database_disk_total_bytes", "Size of the database's disk, bytes", value=usage.total
        )


def database_size_bytes() -> float | None:
    queries = {
        "postgresql": "SELECT pg_database_size(current_database())",
        "sqlite": "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    }
    if connection.vendor not in queries:
        return None
    with connection.cursor() as cursor:
        cursor.execute(queries[connection.vendor])
        return float(cursor.fetchone()[0])


def database_disk_path() -> str | None:
    """Where the database's files live as seen from this process: DATABASE_DISK_PATH (compose mounts
    the PostgreSQL volume there read-only), else the SQLite file's folder; None when not visible."""
    if settings.DATABASE_DISK_PATH:
        return settings.DATABASE_DISK_PATH if os.path.isdir(settings.DATABASE_DISK_PATH) else None
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        return os.path.dirname(os.path.abspath(name)) if os.path.isfile(name) else None
    return None
