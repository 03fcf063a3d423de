"""What became of each alert: NotificationLog rows, the sent_total metric, and the admin switches.

`coinpilot_notifications_sent_total{event,status}` counts per embed: sent, failed (for good),
retry (a failed attempt that will be retried), rate_limited (a 429), off (switched off in the
admin or no webhook URL) and suppressed (a repeated `risk` event inside its cooldown).
"""

import logging
from datetime import datetime

from django.utils import timezone
from prometheus_client import Counter

from .outbox import get_redis

log = logging.getLogger(__name__)

SENT = Counter(
    "coinpilot_notifications_sent_total", "Discord alerts by outcome (one per embed)", ["event", "status"]
)


def count(event: str, status: str, amount: int = 1) -> None:
    SENT.labels(event, status).inc(amount)


def record(items: list[dict], status: str, *, attempts: int, error: str = "", webhook: str = "") -> None:
    """One NotificationLog row per item (idempotent on the item id) and the metric."""
    from ..models import NotificationLog

    now = timezone.now()
    rows = [
        NotificationLog(
            ref=item["id"][:64],
            event=item["event"],
            status=status,
            title=str(item.get("title", ""))[:256],
            attempts=attempts,
            last_error=error[:2000],
            webhook=webhook[:120],
            created_at=_event_time(item, now),
            finished_at=now,
        )
        for item in items
    ]
    for item in items:
        count(item["event"], status)
    try:
        NotificationLog.objects.bulk_create(rows, ignore_conflicts=True)
    except Exception:
        log.exception("could not record %d notification outcome(s) (%s)", len(rows), status)


def switches() -> dict[str, tuple[bool, str]]:
    """{event: (enabled, fingerprint of a webhook that answered 404 or "")} from the admin."""
    from ..models import NotificationSetting

    try:
        return {row.event: (row.enabled, row.webhook_gone) for row in NotificationSetting.objects.all()}
    except Exception:
        # The database is down: send everything rather than hold back the alert that says so.
        log.exception("could not read notification switches; sending as if all were on")
        return {}


def mark_gone(events: list[str], hook: str) -> None:
    """Persist that this webhook answered 404 for these events (until its URL changes)."""
    from ..models import NotificationSetting

    for event in events:
        NotificationSetting.objects.update_or_create(
            event=event, defaults={"webhook_gone": hook, "webhook_gone_at": timezone.now()}
        )


def warn_once(key: str, message: str, *args, ttl: int = 86400) -> None:
    """Log `message` once per `ttl` seconds across all processes (not once per job)."""
    try:
        first = get_redis().set(f"notify:warned:{key}", "1", nx=True, ex=ttl)
    except Exception:
        first = True
    if first:
        log.warning(message, *args)


def _event_time(item: dict, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(item["at"])
    except (KeyError, TypeError, ValueError):
        return default
