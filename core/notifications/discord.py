"""The only code that talks to Discord: one webhook POST, its answer sorted into what to do next.

A webhook URL carries its token, so it is a secret: it is never logged (httpx's request log line
is masked by a filter installed here), never stored, and shown only as `mask(url)`.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass

import httpx

ACCEPTED, RATE_LIMITED, RETRYABLE = "accepted", "rate_limited", "retryable"
PERMANENT, GONE = "permanent", "gone"
WEBHOOK_PATH = re.compile(r"(/api/webhooks/)(\d{0,2})\d*/[\w.-]+")
MAX_RETRY_AFTER = 3600.0  # seconds; a longer or nonsensical wait is capped


@dataclass(frozen=True)
class Answer:
    """What Discord said to one POST, sorted: accepted, rate_limited, retryable, permanent or gone."""

    kind: str
    status: int | None = None
    error: str = ""
    retry_after: float = 0.0  # 429: seconds to wait; accepted with no request left: the bucket reset


def mask(url: str) -> str:
    """The URL with its token hidden: https://discord.com/api/webhooks/12.../****."""
    masked = WEBHOOK_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)}.../****", url)
    return masked if masked != url else (url.split("?")[0][:24] + "...****" if url else "")


def fingerprint(url: str) -> str:
    """A short stable id of the URL (Redis keys, the 404 switch) that does not reveal the token."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def execute_webhook(url: str, message: dict, *, timeout: float) -> Answer:
    """POST one message with `?wait=true`, so a refused message comes back as an error."""
    try:
        response = httpx.post(url, params={"wait": "true"}, json=message, timeout=timeout)
    except httpx.TimeoutException as exc:
        return Answer(RETRYABLE, error=f"timeout after {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Answer(RETRYABLE, error=redact(f"{type(exc).__name__}: {exc}", url))
    return classify(response)


def classify(response: httpx.Response) -> Answer:
    """Sort an HTTP answer: 2xx accepted, 429 wait, 404 gone, 5xx retry, other 4xx permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return Answer(ACCEPTED, status, retry_after=_bucket_wait(response))
    error = f"HTTP {status}: {_body_message(response)}"
    if status == 429:
        return Answer(RATE_LIMITED, status, error, retry_after=_retry_after(response))
    if status == 404:
        return Answer(GONE, status, error)
    if status >= 500 or status == 408:
        return Answer(RETRYABLE, status, error)
    return Answer(PERMANENT, status, error)


def redact(text: str, url: str = "") -> str:
    """`text` with any webhook token in it masked."""
    if url:
        text = text.replace(url, mask(url))
    return WEBHOOK_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)}.../****", text)


def _retry_after(response: httpx.Response) -> float:
    # The body's float is the precise one; the header is the fallback (both are documented).
    candidates = []
    try:
        candidates.append(response.json().get("retry_after"))
    except (ValueError, AttributeError):
        pass
    candidates += [response.headers.get("retry-after"), response.headers.get("x-ratelimit-reset-after")]
    for value in candidates:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER)
    return 1.0


def _bucket_wait(response: httpx.Response) -> float:
    """Seconds until the bucket refills when Discord says no request is left, else 0."""
    if response.headers.get("x-ratelimit-remaining") != "0":
        return 0.0
    try:
        return min(max(float(response.headers.get("x-ratelimit-reset-after", 0)), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0


def _body_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        text = body.get("message", "")
        if body.get("errors"):
            text += " " + json.dumps(body["errors"])[:300]
        return text[:500] or response.reason_phrase
    return str(body)[:300]


class _MaskWebhookURLs(logging.Filter):
    """httpx logs every request URL at INFO; a webhook URL must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/api/webhooks/" in message:
            record.msg, record.args = redact(message), ()
        return True


logging.getLogger("httpx").addFilter(_MaskWebhookURLs())
