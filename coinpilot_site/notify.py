"""`notify(event_type, payload)`: the one entry point for alerts. It only enqueues; it never sends."""

import json
import logging
from decimal import Decimal

import django_rq

from . import metrics

log = logging.getLogger(__name__)

EVENT_TYPES = frozenset(
    {"trade", "ai-decision", "ai-reject", "risk", "daily-report", "weekly-exit-report", "system"}
)
SENDER = "coinpilot_site.notifications.sender.send_notification"


def notify(event_type: str, payload: dict) -> None:
    """Queue an alert on the `notifications` queue and return at once.

    Never raises: an alert that cannot be queued is logged, and trading goes on.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown notification event {event_type!r}; one of {sorted(EVENT_TYPES)}")
    try:
        queue = django_rq.get_queue("notifications")
        queue.enqueue(SENDER, event_type, _plain(payload), result_ttl=3600, failure_ttl=7 * 86400)
        metrics.NOTIFICATIONS_ENQUEUED.labels(event_type).inc()
    except Exception:
        log.exception("could not queue %s notification", event_type)


def _plain(payload: dict) -> dict:
    """Built-in types only (Decimal, datetime -> str) so any serializer can carry it."""

    def default(value):
        if isinstance(value, Decimal):
            return str(value)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    return json.loads(json.dumps(payload, default=default))
