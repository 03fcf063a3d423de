"""The one Redis connection every part of CoinPilot uses (the RQ connection, real or embedded)."""

import django_rq
from redis import Redis


def get_redis() -> Redis:
    """Return the shared Redis client (same server as the RQ queues)."""
    return django_rq.get_connection("default")
