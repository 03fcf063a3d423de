"""Upbit exchange (private) API: balances, market orders, order look-up.

A separate module only because `market/upbit.py` would pass ~400 lines with it; the HTTP itself
(timeouts, the shared Redis rate limiter, 429 back-off, 418 ban, error classes) is the quotation
client's, inherited, so `market/upbit.py` stays the one place that sends to Upbit.

Every request carries a fresh HS256 JWT: `access_key`, a new uuid4 `nonce` (a reused one is
refused), and with parameters `query_hash` = SHA-512 of the un-encoded query string (for a POST,
of the JSON body's fields in the same form). The keys and the token are never logged or put in
an error message. An order POST is retried only after 429 (Upbit did not take it); after a
timeout or a 5xx the outcome is unknown and the caller must look the order up by `identifier`
before doing anything else: an identifier can never be sent twice (upbit.md 4.7).
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote, urlencode

import jwt
from django.conf import settings

from core.redis_conn import get_redis

from .ratelimit import RateLimiter
from .upbit import PermanentError, RateLimitedError, UpbitClient, UpbitError

FINAL_STATES = frozenset({"done", "cancel"})


class AuthError(PermanentError):
    """HTTP 401: Upbit refused the key, the signature, the query hash or the nonce."""


class RequestRefused(PermanentError):
    """HTTP 400/403/404: refused (insufficient funds, below minimum, order not found, ...); nothing placed."""


class MalformedResponse(PermanentError):
    """A 2xx body whose shape is not what Upbit documents."""


@dataclass(frozen=True)
class Balance:
    currency: str
    balance: Decimal  # available
    locked: Decimal  # reserved by open orders or withdrawals
    avg_buy_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.balance + self.locked


@dataclass(frozen=True)
class OrderTrade:
    price: Decimal
    volume: Decimal
    funds: Decimal
    created_at: datetime | None


@dataclass(frozen=True)
class Order:
    uuid: str
    identifier: str
    market: str
    side: str  # bid / ask
    ord_type: str
    state: str  # wait / watch / done / cancel
    executed_volume: Decimal
    paid_fee: Decimal
    trades: tuple[OrderTrade, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def average_price(self) -> Decimal | None:
        """Volume-weighted price of the executions (None when nothing executed or no trades listed)."""
        volume = sum((t.volume for t in self.trades), Decimal(0))
        if volume <= 0:
            return None
        return sum((t.funds for t in self.trades), Decimal(0)) / volume

    def executed_at(self) -> datetime | None:
        moments = [t.created_at for t in self.trades if t.created_at is not None]
        return max(moments) if moments else None


def query_string(params: dict) -> str:
    """The string Upbit hashes: `k=v&...` in the order sent, not percent-encoded."""
    return unquote(urlencode(params, doseq=True))


def auth_token(access_key: str, secret_key: str, params: dict | None = None) -> str:
    """A signed JWT (HS256) for one request: never reuse it, the nonce is single-use."""
    payload = {"access_key": access_key, "nonce": str(uuid.uuid4())}
    if params:
        payload["query_hash"] = hashlib.sha512(query_string(params).encode()).hexdigest()
        payload["query_hash_alg"] = "SHA512"
    return jwt.encode(payload, secret_key, algorithm="HS256")


class UpbitExchangeClient(UpbitClient):
    """The private API with the account's keys; orders in the `order` group, the rest in `default`."""

    def __init__(self, base_url: str | None = None, *, access_key: str, secret_key: str, **options):
        if not (access_key and secret_key):
            raise ValueError("the Upbit exchange API needs UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY")
        super().__init__(base_url, **options)
        self._access_key = access_key
        self._secret_key = secret_key
        redis = get_redis()
        self._limiters = {
            "order": RateLimiter(redis, rate=settings.UPBIT_ORDER_RATE_PER_SEC),
            "default": RateLimiter(redis, rate=settings.UPBIT_EXCHANGE_RATE_PER_SEC),
        }

    def __repr__(self) -> str:  # never show the keys
        return f"<UpbitExchangeClient {self.base_url}>"

    @classmethod
    def from_settings(cls, **options) -> "UpbitExchangeClient":
        return cls(
            settings.UPBIT_BASE_URL,
            access_key=settings.UPBIT_ACCESS_KEY,
            secret_key=settings.UPBIT_SECRET_KEY,
            **options,
        )

    # --- endpoints ----------------------------------------------------------------------------

    def accounts(self) -> list[Balance]:
        """Every currency the account holds (GET /v1/accounts)."""
        body = self._call("GET", "/v1/accounts", {}, group="default")
        if not isinstance(body, list):
            raise MalformedResponse(f"GET /v1/accounts: expected a list, got {type(body).__name__}")
        return [parse_balance(item) for item in body]

    def market_buy(self, market: str, krw: Decimal, identifier: str) -> Order:
        """Spend `krw` (fee charged on top) at market: `ord_type=price`, no volume."""
        params = {"market": market, "side": "bid", "ord_type": "price", "price": _number(krw)}
        return self._place(params | {"identifier": identifier})

    def market_sell(self, market: str, volume: Decimal, identifier: str) -> Order:
        """Sell `volume` at market: `ord_type=market`, no price."""
        params = {"market": market, "side": "ask", "ord_type": "market", "volume": _number(volume)}
        return self._place(params | {"identifier": identifier})

    def order(self, *, uuid: str = "", identifier: str = "") -> Order | None:
        """One order by uuid or identifier (GET /v1/order); None when Upbit has no such order."""
        params = {"uuid": uuid} if uuid else {"identifier": identifier}
        try:
            body = self._call("GET", "/v1/order", params, group="default")
        except RequestRefused as exc:
            if exc.name == "order_not_found":
                return None
            raise
        return parse_order(body)

    # --- transport hooks ----------------------------------------------------------------------

    def _place(self, params: dict) -> Order:
        # Only a 429 proves Upbit did not take the order; anything else unknown is for the caller.
        body = self._call("POST", "/v1/orders", params, group="order", retry_on=RateLimitedError)
        return parse_order(body)

    def _limiter(self, group: str) -> RateLimiter:
        return self._limiters.get(group, self.limiter)

    def _headers(self, params: dict) -> dict:
        return {"Authorization": f"Bearer {auth_token(self._access_key, self._secret_key, params)}"}

    def _client_error(self, where: str, status: int, name: str, message: str) -> UpbitError:
        if status == 401:
            return AuthError(
                f"{where}: Upbit refused the API credentials (401 {name}: {message}); check "
                "UPBIT_ACCESS_KEY / UPBIT_SECRET_KEY, the key's permissions and its allowed IPs",
                status=status,
                name=name,
            )
        return RequestRefused(f"{where}: {status} {name}: {message}", status=status, name=name)


# --- parsing at the edge: Upbit sends numbers as strings ----------------------------------------


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal(item: dict, key: str, where: str, *, required: bool = True) -> Decimal:
    value = item.get(key)
    if value is None and not required:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise MalformedResponse(f"{where}: `{key}` is missing or not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(f"{where}: `{key}` is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise MalformedResponse(f"{where}: `{key}` is not a non-negative number: {value!r}")
    return number


def _text(item: dict, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"{where}: `{key}` is missing or not text: {value!r}")
    return value


def _moment(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def parse_balance(item) -> Balance:
    """One /v1/accounts entry, numbers to Decimal."""
    if not isinstance(item, dict):
        raise MalformedResponse(f"accounts: expected an object, got {item!r}"[:200])
    where = "accounts"
    return Balance(
        currency=_text(item, "currency", where),
        balance=_decimal(item, "balance", where),
        locked=_decimal(item, "locked", where),
        avg_buy_price=_decimal(item, "avg_buy_price", where, required=False),
    )


def parse_order(body) -> Order:
    """An order object (POST /v1/orders, GET /v1/order), numbers to Decimal."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"order: expected an object, got {type(body).__name__}")
    where = f"order {body.get('uuid', '?')}"
    trades = body.get("trades") or []
    if not isinstance(trades, list) or not all(isinstance(t, dict) for t in trades):
        raise MalformedResponse(f"{where}: `trades` is not a list of objects")
    return Order(
        uuid=_text(body, "uuid", where),
        identifier=body.get("identifier") or "",
        market=_text(body, "market", where),
        side=_text(body, "side", where),
        ord_type=_text(body, "ord_type", where),
        state=_text(body, "state", where),
        executed_volume=_decimal(body, "executed_volume", where),
        paid_fee=_decimal(body, "paid_fee", where),
        trades=tuple(
            OrderTrade(
                price=_decimal(t, "price", where),
                volume=_decimal(t, "volume", where),
                funds=_decimal(t, "funds", where),
                created_at=_moment(t.get("created_at")),
            )
            for t in trades
        ),
    )
