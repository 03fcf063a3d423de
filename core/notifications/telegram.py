"""The only code that sends alerts to Telegram: one Bot API sendMessage, its answer sorted.

httpx directly (not python-telegram-bot): the RQ job is synchronous, and the answers are sorted
into the same kinds as Discord's (discord.Answer), so the outbox's retry paths serve both. The bot
token sits in the request path, so it is a secret: it never reaches a log line (a filter on
httpx's logger masks it), an error text or a NotificationLog row.
"""

import logging
import re

import httpx
from django.conf import settings

from .discord import ACCEPTED, MAX_RETRY_AFTER, PERMANENT, RATE_LIMITED, RETRYABLE, Answer

TOKEN_PATH = re.compile(r"(/bot)\d+:[\w-]+")


def label(chat_id: int) -> str:
    """How a chat is shown in NotificationLog and the logs (chat ids are not secrets)."""
    return f"telegram chat {chat_id}"


def send_message(chat_id: int, text: str, *, timeout: float) -> Answer:
    """Send one HTML message to one chat."""
    token = settings.TELEGRAM_BOT_TOKEN
    url = f"{settings.TELEGRAM_API_BASE_URL}{token}/sendMessage"
    body = {
        "chat_id": chat_id,
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.TimeoutException as exc:
        return Answer(RETRYABLE, error=f"timeout after {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Answer(RETRYABLE, error=redact(f"{type(exc).__name__}: {exc}"))
    return classify(response)


def classify(response: httpx.Response) -> Answer:
    """Sort a Bot API answer: ok accepted, 429 wait, 5xx/408 and unreadable retry, other 4xx permanent."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # Telegram may have sent it; a retry can duplicate, a drop would lose it: retry.
        return Answer(RETRYABLE, status, f"HTTP {status}: unreadable answer {redact(response.text[:100])!r}")
    error = redact(f"HTTP {status}: {str(body.get('description', ''))[:500] or response.reason_phrase}")
    if 200 <= status < 300 and body.get("ok"):
        return Answer(ACCEPTED, status)
    if status == 429:
        return Answer(RATE_LIMITED, status, error, retry_after=_retry_after(response, body))
    if status >= 500 or status == 408 or 200 <= status < 300:
        return Answer(RETRYABLE, status, error)
    return Answer(PERMANENT, status, error)


def redact(text: str) -> str:
    """`text` with the bot token masked."""
    try:
        token = getattr(settings, "TELEGRAM_BOT_TOKEN", "")
    except Exception:  # settings not loaded (a log line at start-up): the pattern still masks
        token = ""
    if token:
        text = text.replace(token, "****")
    return TOKEN_PATH.sub(r"\1****", text)


def _retry_after(response: httpx.Response, body: dict) -> float:
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    for value in (parameters.get("retry_after"), response.headers.get("retry-after")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER)
    return 1.0


class _MaskBotToken(logging.Filter):
    """httpx logs every request URL at INFO; the token in a Bot API path must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


logging.getLogger("httpx").addFilter(_MaskBotToken())
