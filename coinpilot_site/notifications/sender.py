"""Delivery of queued notifications (runs on the `notifications` queue)."""

import logging

log = logging.getLogger(__name__)


def send_notification(event_type: str, payload: dict) -> str:
    """Deliver one event. The Discord transport is built on top of this entry point."""
    log.info("notification %s: %s", event_type, payload.get("title", ""))
    return "logged"
