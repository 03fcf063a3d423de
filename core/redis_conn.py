"""The one Redis connection every part of CoinPilot uses (the RQ connection, real or embedded)."""

import django_rq
from django.conf import settings
from redis import Redis

_clients: dict[tuple, Redis] = {}


def get_redis() -> Redis:
    """Return the shared Redis client (same server as the RQ queues).

    django-rq builds a new client, pool and TCP connection on every `get_connection()`; the bot
    cycle, notify() and the pages call this many times a second, so one client per configured
    server is kept. redis-py's pool notices a fork and opens fresh sockets in the child.
    """
    config = settings.RQ_QUEUES["default"]
    key = (config.get("URL"), id(config.get("REDIS_CLIENT_KWARGS")))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = django_rq.get_connection("default")
    return client
