"""`notify(event_type, payload)`: the one entry point for alerts. It only enqueues; it never sends.

It appends the alert to the outbox of each destination in Redis (its Discord webhook, each
Telegram chat of TELEGRAM_ALERT_CHAT_IDS) (so a burst is in the outbox before the
first delivery job runs, and is coalesced) and queues `send_notification` on the `notifications`
queue, which does the sending (core/notifications/sender.py). Both are Redis calls: the
caller returns within milliseconds whatever Discord does.

A `risk` event is sent at most once per NOTIFY_RISK_COOLDOWN_SECONDS for the same `kind` and
`symbol` (payload keys): a limit that refuses an order every cycle raises one alert, not one a
minute. The kill switch (an operator's action) is never held back. The payload keys each
event understands are in notifications/embeds.py and notifications/samples.py.
"""

import json
import logging
from decimal import Decimal
from uuid import uuid4

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import translation
from rq import Retry

from . import metrics
from .notifications import config, outbox
from .notifications.records import count

log = logging.getLogger(__name__)


def alert_language() -> translation.override:
    """Alerts and reports are written for a channel, not a person: in COINPILOT_ALERT_LANGUAGE.

    The sender writes each message in it (sender._render); a caller that puts its own words in a
    payload (a title, a detail) writes them inside `with alert_language():`, or passes
    gettext_lazy text, which notify() writes in that language.
    """
    return translation.override(settings.ALERT_LANGUAGE)


EVENT_TYPES = frozenset(config.EVENT_TYPES)
SENDER = "core.notifications.sender.send_notification"
# Operator actions, rare and deliberate: turning the kill switch on and then off must both arrive.
UNTHROTTLED_RISK_KINDS = frozenset({"kill_switch"})


def notify(event_type: str, payload: dict) -> None:
    """Queue an alert on the `notifications` queue and return at once.

    Never raises for a delivery problem: an alert that cannot be queued is logged, and trading
    goes on. An unknown event type is a programming error and raises ValueError.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown notification event {event_type!r}; one of {sorted(EVENT_TYPES)}")
    try:
        with alert_language():  # lazily translated text in the payload is written here, in that language
            payload = _plain(payload)
        if transaction.get_connection().in_atomic_block:
            # Like django-rq's default commit mode: an alert raised inside a transaction that
            # rolls back (a trade that did not happen) is never sent.
            transaction.on_commit(lambda: _queue(event_type, payload), robust=True)
        else:
            _queue(event_type, payload)  # touches no database: a "database down" alert still goes
    except Exception:
        log.exception("could not queue %s notification", event_type)


def _queue(event_type: str, payload: dict) -> None:
    if event_type == "risk" and not _risk_first_in_window(payload):
        count(event_type, "suppressed")
        return
    enqueue_alert(event_type, payload)


def enqueue_alert(event_type: str, payload: dict) -> str:
    """Outbox + job for one alert, now, with no cooldown (notify_test); returns the item id."""
    with alert_language():  # notify_test's samples carry lazy text
        payload = _plain(payload)
    item_id = uuid4().hex
    item = outbox.make_item(item_id, event_type, payload)
    for hook in config.destinations(event_type):  # the Discord webhook, then each Telegram chat
        outbox.push(hook, item | {"id": config.item_id_for(item_id, hook)})
    queue = django_rq.get_queue("notifications", commit_mode="auto", connection=outbox.get_redis())
    queue.enqueue(
        SENDER,
        event_type,
        payload,
        job_id=item_id,
        retry=Retry(max=2),  # a worker killed mid-job: rq queues it again, it resumes the outbox
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )
    metrics.NOTIFICATIONS_ENQUEUED.labels(event_type).inc()
    return item_id


def _risk_first_in_window(payload: dict) -> bool:
    """True for the first `risk` event of its kind and symbol in the cooldown window."""
    seconds = settings.NOTIFY_RISK_COOLDOWN_SECONDS
    if seconds <= 0 or str(payload.get("kind", "")).lower() in UNTHROTTLED_RISK_KINDS:
        return True
    key = f"notify:cooldown:risk:{payload.get('kind', '-')}:{payload.get('symbol') or '-'}"
    return bool(outbox.get_redis().set(key, "1", nx=True, ex=seconds))


def _plain(payload: dict) -> dict:
    """Built-in types only (Decimal, datetime -> str) so any serializer can carry it."""

    def default(value):
        if isinstance(value, Decimal):
            return str(value)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    return json.loads(json.dumps(payload, default=default))
