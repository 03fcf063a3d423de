"""The Upbit exchange (private) API on top of the fake Upbit server.

It checks what Upbit checks: the JWT signature (HS256/HS512, 401 `jwt_verification`), the access
key, a nonce used once (401 `nonce_used`), `query_hash` over the un-encoded query string or the
POST body's fields (401 `invalid_query_payload`), and an `identifier` never used before, not even
by a refused request. It keeps balances (the KRW fee reserved on top of a market buy, released
on settlement), answers numbers as strings, and moves orders from `wait` to `done`/`cancel`
after `polls_before_final` look-ups. Knobs are plain attributes:

    fill_mode   "fill" (done), "cancel_with_volume" (a market buy ending `cancel` with volume),
                "partial" (a share executed, then cancel), "nothing" (cancel, nothing executed)
    inject      {"POST /v1/orders": [429, 500, "drop", "lose"], "GET /v1/order": [...]}: the next
                requests of that route answer 429 (plain text) or 500, hang up before acting
                ("drop") or act and then hang up ("lose": the response is lost)
"""

import hashlib
import threading
import uuid as uuidlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from urllib.parse import parse_qsl, unquote, urlencode

import jwt

from .upbit import DROP, TOO_MANY, FakeUpbit, Reply, Request, error

FEE = Decimal("0.0005")
MIN_TOTAL = Decimal("5000")
QTY = Decimal("0.00000001")
KST_OFFSET = timedelta(hours=9)
ACCESS_KEY, SECRET_KEY = "test-access", "test-secret"


def s(value: Decimal) -> str:
    """Upbit's number strings."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class FakeExchange:
    """Accounts, market orders and order look-ups for one API key pair."""

    def __init__(self, upbit: FakeUpbit, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        self.upbit = upbit
        self.access_key, self.secret_key = access_key, secret_key
        self.balances: dict[str, Decimal] = defaultdict(Decimal, {"KRW": Decimal("1000000")})
        self.locked: dict[str, Decimal] = defaultdict(Decimal)
        self.avg_buy: dict[str, Decimal] = defaultdict(Decimal)
        self.prices: dict[str, Decimal] = {}  # market -> the price market orders fill at
        self.orders: dict[str, dict] = {}  # uuid -> order
        self.identifiers: dict[str, str] = {}  # identifier -> uuid (accepted orders)
        self.used_identifiers: set[str] = set()
        self.nonces: set[str] = set()
        self.fill_mode = "fill"
        self.partial_ratio = Decimal("0.5")
        self.polls_before_final = 1
        self.inject: dict[str, list] = defaultdict(list)
        self.refusals: list[str] = []  # error names answered, for assertions
        self.lock = threading.RLock()
        upbit.add_route("GET", r"/v1/accounts", "default", self._accounts)
        upbit.add_route("POST", r"/v1/orders", "order", self._create)
        upbit.add_route("GET", r"/v1/order", "default", self._get_order)

    @property
    def url(self) -> str:
        return self.upbit.url

    def placed(self) -> list[dict]:
        return list(self.orders.values())

    # --- authentication -----------------------------------------------------------------------

    def _refuse(self, status: int, name: str, message: str) -> Reply:
        self.refusals.append(name)
        return error(status, message, name)

    def _authenticate(self, request: Request) -> Reply | None:
        header = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        if not header.startswith("Bearer "):
            return self._refuse(401, "no_authorization_token", "Please check Authorization Header")
        try:
            claims = jwt.decode(header[7:], self.secret_key, algorithms=["HS256", "HS512"])
        except jwt.InvalidTokenError:
            return self._refuse(401, "jwt_verification", "Failed to verify Jwt token.")
        if claims.get("access_key") != self.access_key:
            return self._refuse(401, "invalid_access_key", "잘못된 엑세스 키입니다.")
        nonce = claims.get("nonce")
        if not nonce:
            return self._refuse(401, "jwt_verification", "nonce is missing")
        with self.lock:
            if nonce in self.nonces:
                return self._refuse(401, "nonce_used", "이미 요청한 nonce값이 다시 사용되었습니다.")
            self.nonces.add(nonce)
        if request.method == "POST":
            pairs = list(request.body.items()) if isinstance(request.body, dict) else []
        else:
            pairs = parse_qsl(request.query, keep_blank_values=True)
        if pairs:
            expected = hashlib.sha512(unquote(urlencode(pairs, doseq=True)).encode()).hexdigest()
            if claims.get("query_hash") != expected or claims.get("query_hash_alg", "SHA512") != "SHA512":
                return self._refuse(401, "invalid_query_payload", "Jwt의 query를 검증하는데 실패하였습니다.")
        return None

    def _injected(self, request: Request):
        queue = self.inject.get(f"{request.method} {request.path}")
        if not queue:
            return None
        what = queue.pop(0)
        if what == 429:
            return Reply(429, TOO_MANY)
        if what == 500:
            return Reply(500, "<html><body>500 Internal Server Error</body></html>")
        return what  # "drop" or "lose"

    # --- handlers -----------------------------------------------------------------------------

    def _accounts(self, request: Request) -> Reply:
        injected = self._injected(request)
        if isinstance(injected, Reply):
            return injected
        if injected == "drop":
            return Reply(DROP)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        with self.lock:
            for order in self.orders.values():  # market orders fill at once in reality
                if order["state"] == "wait":
                    self._settle(order)
            currencies = sorted(c for c in set(self.balances) | set(self.locked) if c == "KRW" or
                                self.balances[c] + self.locked[c] > 0)  # fmt: skip
            rows = [
                {"currency": c, "balance": s(self.balances[c]), "locked": s(self.locked[c]),
                 "avg_buy_price": s(self.avg_buy[c]), "avg_buy_price_modified": False, "unit_currency": "KRW"}
                for c in currencies
            ]  # fmt: skip
        return Reply(200, rows, {"Remaining-Req": "group=default; min=1800; sec=29"})

    def _create(self, request: Request) -> Reply:
        injected = self._injected(request)
        if isinstance(injected, Reply):
            return injected
        if injected == "drop":
            return Reply(DROP)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        body = request.body if isinstance(request.body, dict) else {}
        with self.lock:
            reply = self._accept(body)
        if injected == "lose" and reply.status == 201:
            return Reply(DROP)
        return reply

    def _accept(self, body: dict) -> Reply:
        identifier = body.get("identifier")
        if identifier:
            if identifier in self.used_identifiers:
                # Upbit's exact name for this is undocumented; any 400 means "not placed".
                return self._refuse(400, "validation_error", "identifier already used")
            self.used_identifiers.add(identifier)  # burnt even if the request fails below
        market, side, ord_type = body.get("market"), body.get("side"), body.get("ord_type")
        if market not in self.prices:
            return self._refuse(400, "notfoundmarket", f"다음 마켓에 없는 종목입니다: {market}")
        if side == "bid":
            order = self._accept_bid(body, ord_type)
        elif side == "ask":
            order = self._accept_ask(body, ord_type, market)
        else:
            return self._refuse(400, "validation_error", "side is missing, side does not have a valid value")
        if isinstance(order, Reply):
            return order
        uuid = str(uuidlib.uuid4())
        order = {
            "uuid": uuid, "side": side, "ord_type": ord_type, "state": "wait", "market": market,
            "created_at": _kst(datetime.now(UTC)), **order, "remaining_fee": order["reserved_fee"],
            "paid_fee": "0", "executed_volume": "0", "prevented_volume": "0", "prevented_locked": "0",
            "trades_count": 0, "identifier": identifier, "trades": [], "_polls": 0,
            "_mode": self.fill_mode,
        }  # fmt: skip
        self.orders[uuid] = order
        if identifier:
            self.identifiers[identifier] = uuid
        return Reply(201, _public(order, with_trades=False), {"Remaining-Req": "group=order; min=480; sec=7"})

    def _accept_bid(self, body: dict, ord_type: str) -> dict | Reply:
        if ord_type != "price" or "price" not in body or body.get("volume") is not None:
            return self._refuse(400, "create_bid_error", "market buy: ord_type=price with price only")
        amount = Decimal(body["price"])
        if amount < MIN_TOTAL:
            return self._refuse(400, "under_min_total_bid", "주문 요청 금액이 최소 주문 금액 미만입니다.")
        reserve = amount + amount * FEE  # the fee is reserved on top of a market buy
        if self.balances["KRW"] < reserve:
            return self._refuse(400, "insufficient_funds_bid", "주문 가능한 금액(KRW)이 부족합니다.")
        self.balances["KRW"] -= reserve
        self.locked["KRW"] += reserve
        return {"price": s(amount), "reserved_fee": s(amount * FEE), "locked": s(reserve)}

    def _accept_ask(self, body: dict, ord_type: str, market: str) -> dict | Reply:
        if ord_type != "market" or "volume" not in body or body.get("price") is not None:
            return self._refuse(400, "create_ask_error", "market sell: ord_type=market with volume only")
        currency, volume = market.split("-", 1)[1], Decimal(body["volume"])
        if volume * self.prices[market] < MIN_TOTAL:
            return self._refuse(400, "under_min_total_ask", "주문 요청 금액이 최소 주문 금액 미만입니다.")
        if self.balances[currency] < volume:
            return self._refuse(400, "insufficient_funds_ask", "주문 가능한 수량이 부족합니다.")
        self.balances[currency] -= volume
        self.locked[currency] += volume
        return {"volume": s(volume), "remaining_volume": s(volume), "reserved_fee": "0", "locked": s(volume)}

    def _get_order(self, request: Request) -> Reply:
        injected = self._injected(request)
        if isinstance(injected, Reply):
            return injected
        if injected == "drop":
            return Reply(DROP)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        params = request.params
        with self.lock:
            uuid = params.get("uuid") or self.identifiers.get(params.get("identifier", ""), "")
            order = self.orders.get(uuid)
            if order is None:
                return self._refuse(404, "order_not_found", "주문을 찾지 못했습니다.")
            order["_polls"] += 1
            if order["state"] == "wait" and order["_polls"] > self.polls_before_final:
                self._settle(order)
            return Reply(200, _public(order), {"Remaining-Req": "group=default; min=1800; sec=28"})

    # --- settlement ---------------------------------------------------------------------------

    def _settle(self, order: dict) -> None:
        """Execute the order by its fill mode and move the balances."""
        mode, market = order["_mode"], order["market"]
        currency, price = market.split("-", 1)[1], self.prices[market]
        share = {"fill": Decimal(1), "cancel_with_volume": Decimal(1), "partial": self.partial_ratio}
        share = share.get(mode, Decimal(0))
        if order["side"] == "bid":
            amount = Decimal(order["price"])
            volume = (amount * share / price).quantize(QTY, rounding=ROUND_DOWN)
        else:
            volume = (Decimal(order["volume"]) * share).quantize(QTY, rounding=ROUND_DOWN)
        funds = volume * price
        fee = funds * FEE
        if order["side"] == "bid":
            reserved = Decimal(order["locked"])
            self.locked["KRW"] -= reserved
            self.balances["KRW"] += reserved - funds - fee
            held = self.balances[currency] + self.locked[currency]
            if held + volume > 0:
                self.avg_buy[currency] = (self.avg_buy[currency] * held + funds) / (held + volume)
            self.balances[currency] += volume
        else:
            sold = Decimal(order["volume"])
            self.locked[currency] -= sold
            self.balances[currency] += sold - volume
            self.balances["KRW"] += funds - fee
            order["remaining_volume"] = s(sold - volume)
        order["executed_volume"], order["paid_fee"] = s(volume), s(fee)
        order["remaining_fee"], order["locked"] = "0", "0"
        order["state"] = "done" if mode == "fill" else "cancel"
        if volume > 0:
            order["trades_count"] = 1
            order["trades"] = [
                {"market": market, "uuid": str(uuidlib.uuid4()), "price": s(price), "volume": s(volume),
                 "funds": s(funds), "trend": "up", "created_at": _kst(datetime.now(UTC)),
                 "side": order["side"]}
            ]  # fmt: skip


def _kst(moment: datetime) -> str:
    return (moment + KST_OFFSET).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+09:00"


def _public(order: dict, *, with_trades: bool = True) -> dict:
    body = {k: v for k, v in order.items() if not k.startswith("_")}
    if not with_trades:
        body.pop("trades")
    return body
