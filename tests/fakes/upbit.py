"""A fake Upbit REST server on 127.0.0.1 (ephemeral port) for tests and benchmarks.

Quotation part: minute candles newest first with an
exclusive `to` and no candle for minutes without trades, the market list (with `market_event`
warning and caution flags, delistings and injected errors), ticker, orderbook; per-group
limit of 10 requests per wall-clock second with `Remaining-Req: group=candles; min=600; sec=N`;
past it `429` with the plain-text body "Too many API requests."; `418` bans on demand (or after
repeated 429s); error envelopes `{"error": {"name": 400, "message": ...}}`; injected failures and
malformed pages on demand. The exchange (private) API is added by `upbit_exchange.FakeExchange`
through `add_route` (POST bodies arrive parsed in `Request.body`; `Reply(DROP)` closes the
connection without answering, like a response lost after the server acted).

    with FakeUpbit() as fake:
        fake.add_minutes("KRW-BTC", start, end, skip_every=97)
        client = UpbitClient(fake.url)
"""

import bisect
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOO_MANY = "Too many API requests."
UNITS = (1, 3, 5, 10, 15, 30, 60, 240)
# route group -> (name in Remaining-Req, requests per second)
GROUPS = {"candle": ("candles", 10), "market": ("market", 10), "ticker": ("ticker", 10)}
GROUPS |= {"orderbook": ("orderbook", 10), "default": ("default", 30), "order": ("order", 8)}
DROP = -1  # a Reply status: hang up without an answer
CAUTION_FLAGS = (  # market_event.caution of /v1/market/all?is_details=true
    "PRICE_FLUCTUATIONS",
    "TRADING_VOLUME_SOARING",
    "DEPOSIT_AMOUNT_SOARING",
    "GLOBAL_PRICE_DIFFERENCES",
    "CONCENTRATION_OF_SMALL_ACCOUNTS",
)


@dataclass
class Request:
    method: str
    path: str
    params: dict
    headers: dict
    status: int = 0
    query: str = ""  # the raw query string, as sent
    body: object = None  # a POST's JSON body, parsed (keys in the order sent)


@dataclass
class Reply:
    status: int
    body: object = None  # JSON-able, or str for a raw text body
    headers: dict = field(default_factory=dict)


def error(status: int, message: str, name: object = None) -> Reply:
    """Upbit's error envelope; quotation errors carry the status as a number in `name`."""
    return Reply(status, {"error": {"name": status if name is None else name, "message": message}})


INVALID = "Invalid parameter. Check the given value!"
MISSING = "Missing request parameter error. Check the required parameters!"
TYPE_MISMATCH = "Type mismatch error. Check the parameters type!"


class FakeUpbit:
    """Holds candles per market and serves them like Upbit; every knob is a plain attribute."""

    def __init__(self, *, seed: int = 0):
        self.candles: dict[str, list[dict]] = {}  # market -> Upbit candle dicts, oldest first
        self._times: dict[str, list[datetime]] = {}
        self.names: dict[str, tuple[str, str]] = {}
        # market -> its `market_event` (warning, caution flags) and older `market_warning`, if set
        self.events: dict[str, dict] = {}
        self.market_warnings: dict[str, str] = {}
        # The next market-list answers, in order: 429, a 5xx status, or a malformation kind
        # (see _corrupt_markets); the answer after them is the real list again.
        self.markets_inject: list = []
        self.routes: list[tuple[str, re.Pattern, str, Callable]] = []
        self.requests: list[Request] = []
        self.stats: Counter = Counter()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.windows: dict[str, tuple[int, int]] = {}
        self.fail_rate = 0.0  # share of requests answered with an injected failure
        self.fail_statuses = (429, 500)
        self.malformed: list[str] = []  # kinds of the next candle pages to corrupt, in order
        self.books: dict[str, list[dict]] = {}  # market -> orderbook_units set by a test (else from candles)
        # The next order-book answers, in order: 429, 500 or a malformation kind (see _corrupt_book).
        self.orderbook_inject: list = []
        self.malformed_tickers: list[str] = []  # kinds of the next ticker answers to corrupt, in order
        self.prices: dict[str, float] = {}  # ticker trade price per market (trading went on, candles stopped)
        self.delay = 0.0  # seconds to stall before answering (timeouts)
        self.ban_until = 0.0
        self.ban_seconds = 60
        self.ban_after_429s: int | None = None  # Upbit bans callers who keep going after 429
        self._consecutive_429 = 0
        self.add_route("GET", r"/v1/candles/minutes/(?P<unit>[^/]+)", "candle", self._candles)
        self.add_route("GET", r"/v1/market/all", "market", self._markets)
        self.add_route("GET", r"/v1/ticker", "ticker", self._ticker)
        self.add_route("GET", r"/v1/orderbook", "orderbook", self._orderbook)

    # --- set-up -------------------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, group: str, handler: Callable) -> None:
        """Serve `method pattern` with `handler(request, **groups) -> Reply`, limited as `group`."""
        self.routes.append((method, re.compile(pattern + "$"), group, handler))

    def add_candles(self, market: str, rows: list[dict]) -> None:
        """Add candles given as {timestamp, open, high, low, close, volume[, quote_volume]}."""
        self.names.setdefault(market, (market, market))
        merged = {c["candle_date_time_utc"]: c for c in self.candles.get(market, [])}
        for row in rows:
            item = upbit_candle(market, row)
            merged[item["candle_date_time_utc"]] = item
        ordered = [merged[key] for key in sorted(merged)]
        self.candles[market] = ordered
        self._times[market] = [_utc(c["candle_date_time_utc"]) for c in ordered]

    def add_minutes(
        self, market: str, start: datetime, end: datetime, *, price: float = 100_000_000, skip_every: int = 0
    ) -> int:
        """Add a simple random walk of 1m candles on [start, end), leaving out every `skip_every`-th
        minute (no trades); return how many candles exist."""
        rows, minute, close = [], start, price
        index = 0
        while minute < end:
            index += 1
            step = self.rng.gauss(0, price * 0.0005)
            open_, close = close, max(1.0, round(close + step))
            if not (skip_every and index % skip_every == 0):
                high, low = max(open_, close) + 1000, min(open_, close) - 1000
                rows.append(
                    {"timestamp": minute, "open": open_, "high": high, "low": low, "close": close,
                     "volume": round(self.rng.uniform(0.1, 5), 8)}
                )  # fmt: skip
            minute += timedelta(minutes=1)
        self.add_candles(market, rows)
        return len(rows)

    def set_book(self, market: str, asks: list[tuple], bids: list[tuple] = ()) -> None:
        """Serve this book for `market`: (price, size) levels, best first, paired as Upbit pairs them."""
        units = []
        for n in range(max(len(asks), len(bids))):
            ask_price, ask_size = asks[n] if n < len(asks) else (asks[-1][0] + n, 0)
            bid_price, bid_size = bids[n] if n < len(bids) else (max(bids[-1][0] - n, 1) if bids else 1, 0)
            units.append(
                {"ask_price": _num(ask_price), "bid_price": _num(bid_price),
                 "ask_size": float(ask_size), "bid_size": float(bid_size)}
            )  # fmt: skip
        self.books[market] = units
        self.names.setdefault(market, (market, market))

    def add_market(
        self,
        market: str,
        korean: str = "",
        english: str = "",
        *,
        warning: bool = False,
        caution: dict | None = None,
        market_warning: str | None = None,
    ) -> None:
        """List `market` (any quote: KRW-, BTC-, USDT-) with its warning and caution flags."""
        self.names[market] = (korean or market, english or market)
        flags = {name: False for name in CAUTION_FLAGS} | (caution or {})
        self.events[market] = {"warning": warning, "caution": flags}
        if market_warning is not None:
            self.market_warnings[market] = market_warning

    def delist(self, market: str) -> None:
        """Take `market` out of the market list (its candles stay, as Upbit's history does)."""
        self.names.pop(market, None)
        self.events.pop(market, None)
        self.market_warnings.pop(market, None)

    def ban(self, seconds: int) -> None:
        """Answer 418 to everything for `seconds`."""
        self.ban_until = time.time() + seconds
        self.ban_seconds = seconds

    # --- serving ------------------------------------------------------------------------------

    def start(self) -> "FakeUpbit":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                fake._serve(self, "GET")

            def do_POST(self):
                fake._serve(self, "POST")

            def do_DELETE(self):
                fake._serve(self, "DELETE")

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-upbit")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeUpbit":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        request = Request(method, parts.path, dict(parse_qsl(parts.query)), dict(handler.headers.items()))
        request.query = parts.query
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            raw = handler.rfile.read(length)
            try:
                request.body = json.loads(raw)
            except ValueError:
                request.body = raw.decode(errors="replace")
        reply = self.dispatch(request)
        request.status = reply.status
        if reply.status == DROP:
            handler.close_connection = True
            handler.connection.shutdown(2)  # SHUT_RDWR: the client sees the connection die
            return
        if isinstance(reply.body, str):
            body, ctype = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            body, ctype = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        handler.send_response(reply.status)
        for name, value in {"Content-Type": ctype, **reply.headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def dispatch(self, request: Request) -> Reply:
        """Route one request through ban, rate limit and failure injection to its handler."""
        with self.lock:
            self.requests.append(request)
            self.stats["requests"] += 1
        if self.delay:
            time.sleep(self.delay)
        route = self._route(request)
        if route is None:
            return error(404, "Not found")
        group, handler, found = route
        header_group, limit = GROUPS.get(group, (group, 10))
        if any(name.lower() == "origin" for name in request.headers):
            self.stats["origin"] += 1
            header_group, limit = "origin", 1  # browsers: a far stricter policy
        with self.lock:
            gate, left = self._gate(group if header_group != "origin" else "origin", header_group, limit)
        if gate is not None:
            return gate
        remaining = {"Remaining-Req": f"group={header_group}; min=600; sec={left}"}
        if self.fail_rate and self.rng.random() < self.fail_rate:
            status = self.rng.choice(self.fail_statuses)
            self.stats[f"injected_{status}"] += 1
            body = TOO_MANY if status == 429 else "<html><body>502 Bad Gateway</body></html>"
            return Reply(status, body, remaining)
        reply = handler(request, **found.groupdict())
        reply.headers = {**remaining, **reply.headers}
        return reply

    def _route(self, request: Request):
        for method, pattern, group, handler in self.routes:
            found = pattern.match(request.path)
            if method == request.method and found:
                return group, handler, found
        return None

    def _gate(self, key: str, header_group: str, limit: int) -> tuple[Reply | None, int]:
        now = time.time()
        if now < self.ban_until:
            self.stats["418"] += 1
            left = int(self.ban_until - now) + 1
            return Reply(418, f"{TOO_MANY} You are blocked for {left} seconds."), 0
        window = int(now) if key != "origin" else int(now // 10)
        start, used = self.windows.get(key, (window, 0))
        used = used + 1 if start == window else 1
        self.windows[key] = (window, used)
        if used > limit:
            self.stats["429"] += 1
            self._consecutive_429 += 1
            if self.ban_after_429s and self._consecutive_429 >= self.ban_after_429s:
                self.ban(self.ban_seconds)
            return Reply(429, TOO_MANY, {"Remaining-Req": f"group={header_group}; min=600; sec=0"}), 0
        self._consecutive_429 = 0
        return None, limit - used

    # --- quotation handlers -------------------------------------------------------------------

    def _candles(self, request: Request, unit: str) -> Reply:
        params = request.params
        if not unit.isdigit():
            return error(400, TYPE_MISMATCH)
        if int(unit) not in UNITS:
            return error(400, INVALID)
        if "market" not in params:
            return error(400, MISSING)
        market = params["market"]
        if market not in self.candles:
            return error(404, "Code not found")
        count = params.get("count", "1")
        if not count.lstrip("-").isdigit():
            return error(400, TYPE_MISMATCH)
        if not 1 <= int(count) <= 200:
            return error(400, INVALID)
        try:
            to = _parse_to(params["to"]) if "to" in params else datetime.now(UTC)
        except ValueError:
            return error(400, INVALID)
        page = self._page(market, int(unit), to, int(count))
        if self.malformed and int(unit) == 1:
            return _corrupt(self.malformed.pop(0), page)
        return Reply(200, page)

    def _page(self, market: str, unit: int, to: datetime, count: int) -> list[dict]:
        times, items = self._times[market], self.candles[market]
        if unit == 1:
            end = bisect.bisect_left(times, to)
            return [dict(item) for item in reversed(items[max(0, end - count) : end])]
        buckets: dict[datetime, list[dict]] = {}
        for i in range(bisect.bisect_left(times, to) - 1, -1, -1):
            moment = times[i]
            opened = moment - timedelta(minutes=(moment.hour * 60 + moment.minute) % unit)
            if opened not in buckets:
                if len(buckets) == count:
                    break
                buckets[opened] = []
            buckets[opened].insert(0, items[i])
        return [_merge(market, unit, opened, bars) for opened, bars in buckets.items()]

    def _markets(self, request: Request) -> Reply:
        if self.markets_inject and isinstance(self.markets_inject[0], int):
            status = self.markets_inject.pop(0)
            if status == 429:
                return Reply(429, TOO_MANY, {"Remaining-Req": "group=market; min=600; sec=0"})
            return Reply(status, "<html><body>502 Bad Gateway</body></html>")
        details = request.params.get("is_details", "false") == "true"
        rows = []
        for market, (korean, english) in self.names.items():
            row = {"market": market, "korean_name": korean, "english_name": english}
            if details:
                default = {"warning": False, "caution": {name: False for name in CAUTION_FLAGS}}
                row["market_event"] = json.loads(json.dumps(self.events.get(market, default)))
                if market in self.market_warnings:
                    row["market_warning"] = self.market_warnings[market]
            rows.append(row)
        if self.markets_inject:
            return _corrupt_markets(self.markets_inject.pop(0), rows)
        return Reply(200, rows)

    def _ticker(self, request: Request) -> Reply:
        markets = [m for m in request.params.get("markets", "").split(",") if m]
        if not markets:
            return error(400, MISSING)
        if any(m not in self.candles or not self.candles[m] for m in markets):
            return error(404, "Code not found")
        rows = []
        for market in markets:
            last = self.candles[market][-1]
            moment = _utc(last["candle_date_time_utc"]) + timedelta(seconds=59)  # the bar's last trade
            if market in self.prices:  # a trade after the last candle: now, at the price set
                last = {**last, "trade_price": self.prices[market]}
                moment = datetime.now(UTC)
            rows.append(
                {"market": market, "trade_date": f"{moment:%Y%m%d}", "trade_time": f"{moment:%H%M%S}",
                 "trade_timestamp": int(moment.timestamp() * 1000), "opening_price": last["opening_price"],
                 "high_price": last["high_price"], "low_price": last["low_price"],
                 "trade_price": last["trade_price"],
                 "prev_closing_price": last["opening_price"], "change": "EVEN", "change_price": 0,
                 "change_rate": 0, "signed_change_price": 0, "signed_change_rate": 0,
                 "trade_volume": 0.01, "acc_trade_price": last["candle_acc_trade_price"],
                 "acc_trade_price_24h": last["candle_acc_trade_price"],
                 "acc_trade_volume": last["candle_acc_trade_volume"],
                 "acc_trade_volume_24h": last["candle_acc_trade_volume"],
                 "timestamp": int(time.time() * 1000)}
            )  # fmt: skip
        if self.malformed_tickers:
            return _corrupt_ticker(self.malformed_tickers.pop(0), rows)
        return Reply(200, rows)

    def _orderbook(self, request: Request) -> Reply:
        markets = [m for m in request.params.get("markets", "").split(",") if m]
        if not markets:
            return error(400, MISSING)
        if any(m not in self.books and not self.candles.get(m) for m in markets):
            return error(404, "Code not found")
        if self.orderbook_inject and isinstance(self.orderbook_inject[0], int):
            status = self.orderbook_inject.pop(0)
            if status == 429:
                return Reply(429, TOO_MANY, {"Remaining-Req": "group=orderbook; min=600; sec=0"})
            return Reply(status, "<html><body>502 Bad Gateway</body></html>")
        count = request.params.get("count", "30")
        levels = int(count) if count.isdigit() and 1 <= int(count) <= 30 else 30
        rows = []
        for market in markets:
            units = self.books.get(market) or self._book_from_candles(market, levels)
            units = units[:levels]
            rows.append(
                {"market": market, "timestamp": int(time.time() * 1000), "level": 0, "orderbook_units": units,
                 "total_ask_size": round(sum(u["ask_size"] for u in units), 8),
                 "total_bid_size": round(sum(u["bid_size"] for u in units), 8)}
            )  # fmt: skip
        if self.orderbook_inject:  # a malformation of this answer
            return _corrupt_book(self.orderbook_inject.pop(0), rows)
        return Reply(200, rows)

    def _book_from_candles(self, market: str, levels: int) -> list[dict]:
        price = float(self.candles[market][-1]["trade_price"])
        tick = max(1.0, 10 ** (len(str(int(price))) - 5))
        return [
            {"ask_price": price + tick * (i + 1), "bid_price": price - tick * i,
             "ask_size": round(0.05 * (i + 1), 8), "bid_size": round(0.04 * (i + 1), 8)}
            for i in range(levels)
        ]  # fmt: skip


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up (a timeout test) closes its socket mid-answer: expected here.
        pass


def upbit_candle(market: str, row: dict) -> dict:
    """One of our candles as Upbit sends it (Upbit's field names)."""
    moment = row["timestamp"]
    moment = _utc(moment) if isinstance(moment, str) else moment.astimezone(UTC)
    close, volume = float(row["close"]), float(row["volume"])
    return {
        "market": market,
        "candle_date_time_utc": f"{moment:%Y-%m-%dT%H:%M:%S}",
        "candle_date_time_kst": f"{moment + timedelta(hours=9):%Y-%m-%dT%H:%M:%S}",
        "opening_price": _num(row["open"]),
        "high_price": _num(row["high"]),
        "low_price": _num(row["low"]),
        "trade_price": _num(row["close"]),
        "timestamp": int((moment + timedelta(seconds=59)).timestamp() * 1000),
        "candle_acc_trade_price": float(row.get("quote_volume") or close * volume),
        "candle_acc_trade_volume": volume,
        "unit": 1,
    }


def _num(value) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else number


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC)


def _parse_to(text: str) -> datetime:
    # Accepted: 2025-06-24T04:56:53Z, "2025-06-24 04:56:53" (UTC), 2025-06-24T13:56:53+09:00
    moment = datetime.fromisoformat(text.strip().replace(" ", "T").replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _merge(market: str, unit: int, opened: datetime, bars: list[dict]) -> dict:
    merged = dict(bars[-1])
    merged |= {
        "candle_date_time_utc": f"{opened:%Y-%m-%dT%H:%M:%S}",
        "candle_date_time_kst": f"{opened + timedelta(hours=9):%Y-%m-%dT%H:%M:%S}",
        "opening_price": bars[0]["opening_price"],
        "high_price": max(b["high_price"] for b in bars),
        "low_price": min(b["low_price"] for b in bars),
        "candle_acc_trade_volume": sum(b["candle_acc_trade_volume"] for b in bars),
        "candle_acc_trade_price": sum(b["candle_acc_trade_price"] for b in bars),
        "unit": unit,
    }
    return merged


def _corrupt(kind: str, page: list[dict]) -> Reply:
    """A malformed 200 answer of the given kind."""
    if kind == "truncated":
        return Reply(200, json.dumps(page)[: max(10, len(json.dumps(page)) // 2)])
    if kind == "object":
        return Reply(200, {"market": "KRW-BTC"})
    if not page:
        return Reply(200, page)
    page = [dict(item) for item in page]
    if kind == "missing_field":
        del page[len(page) // 2]["trade_price"]
    elif kind == "not_numeric":
        page[len(page) // 2]["high_price"] = "abc"
    elif kind == "high_below_low":
        item = page[len(page) // 2]
        item["high_price"], item["low_price"] = item["low_price"] - 1, item["high_price"] + 1
    elif kind == "negative_volume":
        page[len(page) // 2]["candle_acc_trade_volume"] = -1.5
    elif kind == "duplicate":
        page.insert(1, dict(page[0]))
    elif kind == "future":
        page[0]["candle_date_time_utc"] = f"{datetime.now(UTC) + timedelta(hours=1):%Y-%m-%dT%H:%M:00}"
    else:
        raise ValueError(f"unknown malformation {kind!r}")
    return Reply(200, page)


def _corrupt_markets(kind: str, rows: list[dict]) -> Reply:
    """A malformed 200 market-list answer of the given kind."""
    if kind == "truncated":
        text = json.dumps(rows)
        return Reply(200, text[: len(text) // 2])
    if kind == "object":
        return Reply(200, {"market": "KRW-BTC"})
    if kind == "empty":
        return Reply(200, [])
    rows = [json.loads(json.dumps(row)) for row in rows]
    if kind == "missing_market":
        del rows[0]["market"]
    elif kind == "bad_name":
        rows[0]["market"] = "KRW BTC;DROP"
    elif kind == "warning_not_bool":
        rows[0]["market_event"]["warning"] = "yes"
    elif kind == "caution_not_bool":
        rows[0]["market_event"]["caution"]["PRICE_FLUCTUATIONS"] = 1
    elif kind == "event_not_object":
        rows[0]["market_event"] = "NONE"
    elif kind == "bad_market_warning":
        rows[0]["market_warning"] = "MAYBE"
    elif kind == "duplicate":
        rows.append(dict(rows[0]))
    elif kind == "not_object":
        rows[0] = "KRW-BTC"
    else:
        raise ValueError(f"unknown market-list malformation {kind!r}")
    return Reply(200, rows)


def _corrupt_ticker(kind: str, rows: list[dict]) -> Reply:
    """A malformed 200 ticker answer of the given kind."""
    rows = [dict(row) for row in rows]
    if kind == "truncated":
        return Reply(200, json.dumps(rows)[: max(10, len(json.dumps(rows)) // 2)])
    if kind == "object":
        return Reply(200, {"market": rows[0]["market"]})
    if kind == "missing_price":
        del rows[0]["trade_price"]
    elif kind == "not_numeric":
        rows[0]["trade_price"] = "abc"
    elif kind == "zero_price":
        rows[0]["trade_price"] = 0
    elif kind == "other_market":
        rows[0]["market"] = "KRW-NOPE"
    elif kind == "future":
        rows[0]["trade_timestamp"] = int((time.time() + 3600) * 1000)
    else:
        raise ValueError(f"unknown ticker malformation {kind!r}")
    return Reply(200, rows)


def _corrupt_book(kind: str, rows: list[dict]) -> Reply:
    """A malformed 200 order-book answer of the given kind."""
    if kind == "truncated":
        text = json.dumps(rows)
        return Reply(200, text[: len(text) // 2])
    if kind == "object":
        return Reply(200, {"market": rows[0]["market"]})
    rows = [dict(row, orderbook_units=[dict(u) for u in row["orderbook_units"]]) for row in rows]
    units = rows[0]["orderbook_units"]
    if kind == "empty":
        rows[0]["orderbook_units"] = []
    elif kind == "missing_field":
        del units[0]["ask_price"]
    elif kind == "not_numeric":
        units[1]["ask_size"] = "lots"
    elif kind == "negative_size":
        units[0]["ask_size"] = -1
    elif kind == "unsorted":
        units[0]["ask_price"], units[1]["ask_price"] = units[1]["ask_price"], units[0]["ask_price"]
    elif kind == "crossed":
        units[0]["bid_price"] = units[0]["ask_price"] + 1
    elif kind == "wrong_market":
        rows[0]["market"] = "KRW-NOPE"
    else:
        raise ValueError(f"unknown order-book malformation {kind!r}")
    return Reply(200, rows)
