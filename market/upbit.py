"""The only module that speaks HTTP to Upbit (quotation API: candles, markets, ticker, orderbook;
the exchange API in `upbit_private.py` subclasses this client and sends through its transport).

Every request waits for the shared Redis rate limiter, never carries an `Origin` header (browser
traffic gets 1 request per 10 s), has explicit timeouts, and ends as parsed JSON or one of the
errors below. 429 and 5xx/network failures are retried with back-off; a 418 ban is stored in
Redis so no process calls again before it ends, and raises one `system` alert.
"""

import json
import logging
import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from django.conf import settings
from django.utils.translation import gettext as _
from prometheus_client import Counter, Histogram

from core.notify import alert_language, notify
from core.redis_conn import get_redis

from .orderbook import OrderBook, parse_upbit_orderbook
from .ratelimit import Banned, RateLimiter

log = logging.getLogger(__name__)

MINUTE_UNITS = (1, 3, 5, 10, 15, 30, 60, 240)
MAX_COUNT = 200
DEFAULT_BAN_SECONDS = 300  # the 418 body format is undocumented; assume 5 minutes if unreadable

API_LATENCY = Histogram(
    "coinpilot_api_latency_seconds",
    "Latency of external API calls",
    ["api", "endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UPBIT_REQUESTS = Counter(
    "coinpilot_upbit_requests_total", "Upbit HTTP requests by group and outcome", ["group", "outcome"]
)

_REMAINING = re.compile(r"(\w[\w-]*)\s*=\s*([\w-]+)")


class UpbitError(Exception):
    """Any failed Upbit call."""

    def __init__(self, message: str, *, status: int | None = None, name: str | None = None):
        super().__init__(message)
        self.status = status
        self.name = name


class RetryableError(UpbitError):
    """Worth retrying later: 429, 5xx, timeouts, network errors, truncated bodies."""


class RateLimitedError(RetryableError):
    """HTTP 429: over the per-second limit."""


class PermanentError(UpbitError):
    """Retrying cannot help: bad parameters, unknown market, unexpected response shape."""


class BannedError(UpbitError):
    """HTTP 418 (or a ban already recorded): no call to Upbit until the ban ends."""

    def __init__(self, message: str, *, seconds_left: float):
        super().__init__(message, status=418)
        self.seconds_left = seconds_left


def parse_remaining_req(value: str | None) -> dict:
    """`group=candles; min=600; sec=9` -> {"group": "candles", "sec": 9, ...} (any order or case)."""
    if not value:
        return {}
    fields = {key.lower(): val for key, val in _REMAINING.findall(value)}
    parsed = {}
    if "group" in fields:
        parsed["group"] = fields["group"].lower()
    for key in ("min", "sec"):
        if fields.get(key, "").isdigit():
            parsed[key] = int(fields[key])
    return parsed


def format_to(moment: datetime) -> str:
    """Upbit's `to` parameter: UTC with a Z (httpx percent-encodes the colons)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ban_seconds(response: httpx.Response) -> float:
    """How long a 418 ban lasts: Retry-After, else the first number of seconds in the body."""
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        return float(header)
    found = re.search(r"(\d+)\s*(?:s\b|sec|second|초)", response.text or "", re.IGNORECASE)
    return float(found.group(1)) if found else float(DEFAULT_BAN_SECONDS)


class UpbitClient:
    """Quotation API client; thread-safe (one httpx.Client, the limiter lives in Redis)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        throttle_pause: float = 1.0,
        limiter: RateLimiter | None = None,
    ):
        self.base_url = (base_url or settings.UPBIT_BASE_URL).rstrip("/")
        timeout = timeout or settings.UPBIT_TIMEOUT_SECONDS
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            headers={"Accept": "application/json", "User-Agent": "CoinPilot/0.1"},
            follow_redirects=False,
        )
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.throttle_pause = throttle_pause  # Upbit: after 429 wait at least until the next second
        self.limiter = limiter or RateLimiter(get_redis(), rate=settings.UPBIT_RATE_PER_SEC)
        self.stats = {"requests": 0, "retries": 0, "throttled": 0}

    def close(self) -> None:
        self.http.close()

    # --- endpoints ----------------------------------------------------------------------------

    def minute_candles(
        self, market: str, *, unit: int = 1, to: datetime | None = None, count: int = MAX_COUNT
    ) -> list[dict]:
        """Up to `count` (<= 200) candles of `market` that start before `to`, newest first."""
        if unit not in MINUTE_UNITS:
            raise ValueError(f"unit must be one of {MINUTE_UNITS}, got {unit}")
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be 1..{MAX_COUNT}, got {count}")
        params = {"market": market, "count": count}
        if to is not None:
            params["to"] = format_to(to)
        return self._get(f"/v1/candles/minutes/{unit}", params, group="candle")

    def markets(self, *, details: bool = False) -> list[dict]:
        """Every trading pair (`market`, `korean_name`, `english_name`, [market_event])."""
        return self._get("/v1/market/all", {"is_details": "true" if details else "false"}, group="market")

    def ticker(self, markets: list[str]) -> list[dict]:
        """Current ticker of each market (one request for many)."""
        return self._get("/v1/ticker", {"markets": ",".join(markets)}, group="ticker")

    def orderbook(self, markets: list[str], *, count: int | None = None) -> list[dict]:
        """Order book of each market, best levels first."""
        params = {"markets": ",".join(markets)}
        if count is not None:
            params["count"] = count
        return self._get("/v1/orderbook", params, group="orderbook")

    def order_book(self, market: str) -> OrderBook:
        """The validated book of one market; a malformed answer raises OrderBookError."""
        return parse_upbit_orderbook(self.orderbook([market]), market)

    # --- transport ----------------------------------------------------------------------------

    def _get(self, path: str, params: dict, *, group: str):
        return self._call("GET", path, params, group=group)

    def _call(self, method: str, path: str, params: dict, *, group: str, retry_on=RetryableError):
        """Send with retries on `retry_on` errors (an order POST narrows it to 429: see upbit_private)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send_once(method, path, params, group)
            except retry_on as exc:
                if attempt >= self.max_attempts:
                    raise
                self.stats["retries"] += 1
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                if isinstance(exc, RateLimitedError):
                    # Pause the whole group, in every process, not only this caller.
                    self.stats["throttled"] += 1
                    delay = max(delay, self.throttle_pause)
                    self._limiter(group).hold(group, time.time() + delay)
                log.warning("upbit %s %s failed (%s); retry %d in %.1fs", method, path, exc, attempt, delay)
                time.sleep(delay)

    def _limiter(self, group: str) -> RateLimiter:
        return self.limiter

    def _headers(self, params: dict) -> dict:
        """Per-request headers; the exchange client adds a freshly signed JWT here."""
        return {}

    def _send_once(self, method: str, path: str, params: dict, group: str):
        try:
            self._limiter(group).acquire(group)
        except Banned as exc:
            raise BannedError(str(exc), seconds_left=exc.seconds_left) from None
        self.stats["requests"] += 1
        started = time.perf_counter()
        where = f"{method} {path}"
        try:
            if method == "POST":  # Upbit takes POST parameters only as a JSON body
                response = self.http.post(path, json=params, headers=self._headers(params))
            else:
                response = self.http.request(method, path, params=params, headers=self._headers(params))
        except httpx.TimeoutException as exc:
            UPBIT_REQUESTS.labels(group, "timeout").inc()
            raise RetryableError(f"{where}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            UPBIT_REQUESTS.labels(group, "network").inc()
            raise RetryableError(f"{where}: {type(exc).__name__}: {exc}") from exc
        finally:
            API_LATENCY.labels("upbit", group).observe(time.perf_counter() - started)
        UPBIT_REQUESTS.labels(group, str(response.status_code)).inc()
        self._pace(group, response)
        return self._parse(where, response)

    def _pace(self, group: str, response: httpx.Response) -> None:
        # sec=0: this second's budget is spent; nobody sends again before the next second.
        remaining = parse_remaining_req(response.headers.get("remaining-req"))
        if remaining.get("sec") == 0:
            self._limiter(group).hold(group, int(time.time()) + 1.01)

    def _parse(self, where: str, response: httpx.Response):
        status = response.status_code
        if status == 418:
            self._record_ban(where, response)
        if status == 429:
            raise RateLimitedError(f"{where}: 429 {response.text[:200]!r}", status=429)
        if status >= 500:
            raise RetryableError(f"{where}: {status} {response.text[:200]!r}", status=status)
        if status >= 400:
            name, message = _error_fields(response)
            raise self._client_error(where, status, name, message)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise RetryableError(f"{where}: {status} with a body that is not JSON ({exc})") from exc

    def _client_error(self, where: str, status: int, name: str, message: str) -> UpbitError:
        """The error for a 4xx answer (the exchange client maps 401 and order refusals)."""
        return PermanentError(f"{where}: {status} {name}: {message}", status=status, name=name)

    def _record_ban(self, where: str, response: httpx.Response) -> None:
        seconds = ban_seconds(response)
        if self.limiter.ban(time.time() + seconds):
            log.error("upbit banned this IP for %.0fs: %s", seconds, response.text[:200])
            with alert_language():
                title = _("Upbit ban (HTTP 418)")
                detail = _("calls to Upbit stopped for %(seconds)s s after %(where)s") % {
                    "seconds": f"{seconds:.0f}",
                    "where": where,
                }
            notify("system", {"title": title, "detail": detail, "body": response.text[:500]})
        raise BannedError(f"{where}: 418 banned for {seconds:.0f}s", seconds_left=seconds)


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """(name, message) of Upbit's error envelope; `name` is a number on quotation, a code elsewhere."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("name", response.status_code)), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return str(response.status_code), response.text[:200]
