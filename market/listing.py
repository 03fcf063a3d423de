"""Upbit's market list, cached in the database: which names are real KRW markets, which are under
an Upbit warning or caution, and which disappeared from the list (delisted).

The list comes through the one Upbit HTTP module (market/upbit.py, shared rate limiter) and is
validated here, at the edge: a malformed answer is a MarketListError naming what is wrong, and
nothing of it is stored. A daily job refreshes the cache; a symbol the cache does not know makes
a save-time check refresh it once first (a market listed today is not refused for a day).

How symbols are checked depends on the market source: every source needs the `KRW-<TICKER>`
form; with `upbit` the name must also be a listed KRW market in Upbit's list. The simulated and
CSV sources invent or replay their own markets, so they never ask Upbit (the offline demo works).
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from core.notify import alert_language, notify

from .models import UpbitMarket
from .upbit import UpbitClient, UpbitError

log = logging.getLogger(__name__)

SYMBOL_RE = re.compile(r"^KRW-[A-Z0-9]{1,15}$")
ANY_MARKET_RE = re.compile(r"^[A-Z0-9]{1,10}-[A-Z0-9]{1,15}$")  # KRW-BTC, BTC-ETH, USDT-XRP
TICKER_RE = re.compile(r"^[A-Z0-9]{1,15}$")
CAUTIONS = {  # Upbit's caution flags, in a trader's words
    "PRICE_FLUCTUATIONS": "sharp price swings",
    "TRADING_VOLUME_SOARING": "trading volume soaring",
    "DEPOSIT_AMOUNT_SOARING": "deposits soaring",
    "GLOBAL_PRICE_DIFFERENCES": "price gap with global exchanges",
    "CONCENTRATION_OF_SMALL_ACCOUNTS": "trading concentrated in a few accounts",
}
MARKET_WARNINGS = ("NONE", "CAUTION")  # the older `market_warning` field
RECHECK_AFTER = timedelta(minutes=10)  # an unknown name refreshes a cache older than this
SAVE_ATTEMPTS = 2  # a config save waits for at most two tries, not the collector's five
MAX_DELISTED_SHARE = 0.5  # a list missing more than half the listed markets is not believed


class MarketListError(ValueError):
    """Upbit's market list was malformed or could not be loaded."""


@dataclass(frozen=True)
class ListedMarket:
    """One validated entry of Upbit's market list."""

    market: str
    korean_name: str
    english_name: str
    warning: bool = False
    caution: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketStatus:
    """What the risk manager needs to know about one market (from the cached list)."""

    market: str
    listed: bool = True
    warning: bool = False
    cautions: tuple[str, ...] = ()  # caution flags that are on
    delisting_alerted: bool = False


@dataclass
class RefreshResult:
    markets: int = 0
    added: list[str] = field(default_factory=list)
    delisted: list[str] = field(default_factory=list)
    relisted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.markets} markets"]
        for name in ("added", "delisted", "relisted"):
            names = getattr(self, name)
            if names:
                parts.append(f"{name} {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
        return "; ".join(parts)


# --- names ------------------------------------------------------------------------------------


def normalise(symbol: object) -> str:
    """A symbol as typed, stripped and upper-cased (`krw-btc ` -> `KRW-BTC`)."""
    return str(symbol).strip().upper()


def format_error(symbol: object) -> str | None:
    """Why `symbol` is not a KRW market name like KRW-BTC (None when it is)."""
    if not isinstance(symbol, str):
        return _("%(symbol)s is not a KRW market name like KRW-BTC") % {"symbol": repr(symbol)}
    if SYMBOL_RE.match(symbol):
        return None
    if ANY_MARKET_RE.match(symbol):
        quote = symbol.split("-", 1)[0]
        # Translators: %(quote)s is the market's quote currency, e.g. "USDT-BTC is a USDT market".
        return _(
            "%(symbol)s is a %(quote)s market, not a KRW market: CoinPilot trades KRW markets like KRW-BTC"
        ) % {"symbol": symbol, "quote": quote}
    if TICKER_RE.match(symbol):
        return _("%(symbol)s is not a market name: write it as KRW-%(symbol)s") % {"symbol": symbol}
    return _(
        "%(symbol)s is not a KRW market name like KRW-BTC (upper-case letters and digits after KRW-)"
    ) % {"symbol": repr(symbol)}


def format_errors(symbols: list) -> list[str]:
    return [message for s in symbols if (message := format_error(s))]


# --- the list: parse, refresh -----------------------------------------------------------------


def parse_market_list(answer: object) -> list[ListedMarket]:
    """Upbit's `/v1/market/all?is_details=true` answer, validated; raises MarketListError."""
    if not isinstance(answer, list):
        raise MarketListError(f"Upbit's market list is malformed: not a list but {type(answer).__name__}")
    markets, seen = [], set()
    for index, item in enumerate(answer):
        entry = _parse_item(index, item)
        if entry.market in seen:
            raise MarketListError(f"Upbit's market list is malformed: {entry.market} appears twice")
        seen.add(entry.market)
        markets.append(entry)
    if not any(m.market.startswith("KRW-") for m in markets):
        raise MarketListError("Upbit's market list is malformed: it has no KRW market")
    return markets


def _parse_item(index: int, item: object) -> ListedMarket:
    def bad(what: str) -> MarketListError:
        name = item.get("market") if isinstance(item, dict) else None
        where = f"item {index}" + (f" ({name})" if isinstance(name, str) else "")
        return MarketListError(f"Upbit's market list is malformed: {where}: {what}"[:300])

    if not isinstance(item, dict):
        raise bad(f"expected an object, got {type(item).__name__}")
    market = item.get("market")
    if not isinstance(market, str) or not ANY_MARKET_RE.match(market):
        raise bad(f"market {market!r} is not a market name like KRW-BTC")
    names = {key: item.get(key) for key in ("korean_name", "english_name")}
    for key, value in names.items():
        if not isinstance(value, str):
            raise bad(f"{key} is missing or not text")
    warning, caution = _parse_event(item.get("market_event"), bad)
    old = item.get("market_warning")
    if old is not None and old not in MARKET_WARNINGS:
        raise bad(f"market_warning {old!r} is not one of {', '.join(MARKET_WARNINGS)}")
    return ListedMarket(market, names["korean_name"][:100], names["english_name"][:100],
                        warning or old == "CAUTION", caution)  # fmt: skip


def _parse_event(event: object, bad) -> tuple[bool, dict[str, bool]]:
    """(warning, caution flags) of `market_event`; absent means no flags."""
    if event is None:
        return False, {}
    if not isinstance(event, dict):
        raise bad("market_event is not an object")
    warning = event.get("warning", False)
    if not isinstance(warning, bool):
        raise bad(f"market_event.warning is {warning!r}, expected true or false")
    caution = event.get("caution", {})
    if caution is None:
        caution = {}
    if not isinstance(caution, dict):
        raise bad("market_event.caution is not an object")
    for name, value in caution.items():
        if not isinstance(value, bool):
            raise bad(f"market_event.caution.{name} is {value!r}, expected true or false")
    return warning, {str(name): value for name, value in caution.items()}


def fetch_market_list(client: UpbitClient) -> list[ListedMarket]:
    """Ask Upbit (one request in its `market` group); raises MarketListError or UpbitError."""
    return parse_market_list(client.markets(details=True))


def refresh(client: UpbitClient | None = None, *, now: datetime | None = None) -> RefreshResult:
    """Fetch Upbit's list and store it; markets missing from it are marked delisted.

    Nothing is stored from a malformed answer, nor from one that would delist more than half of
    the listed markets at once (a partial answer, not a wave of delistings).
    """
    now = now or timezone.now()
    own = client is None
    client = client or UpbitClient()
    try:
        markets = fetch_market_list(client)
    finally:
        if own:
            client.close()
    return store_market_list(markets, now=now)


def store_market_list(markets: list[ListedMarket], *, now: datetime) -> RefreshResult:
    """Upsert the validated list in one transaction; mark the missing markets delisted."""
    names = {m.market for m in markets}
    with transaction.atomic():
        before = dict(UpbitMarket.objects.select_for_update().values_list("market", "listed"))
        gone = sorted(m for m, listed in before.items() if listed and m not in names)
        listed_before = sum(before.values())
        if listed_before and len(gone) > listed_before * MAX_DELISTED_SHARE:
            raise MarketListError(
                f"Upbit's market list lacks {len(gone)} of the {listed_before} known markets; "
                "not believed (a partial answer?), the cached list is kept"
            )
        UpbitMarket.objects.bulk_create(
            [_row(m, now) for m in markets],
            update_conflicts=True,
            unique_fields=["market"],
            update_fields=["korean_name", "english_name", "warning", "caution", "listed", "last_seen",
                           "delisted_at", "delisting_alerted"],
            batch_size=500,
        )  # fmt: skip
        UpbitMarket.objects.filter(market__in=gone).update(listed=False, delisted_at=now)
    result = RefreshResult(markets=len(markets), delisted=gone)
    result.added = sorted(names - set(before))
    result.relisted = sorted(m for m in names if before.get(m) is False)
    if gone:
        log.warning("markets gone from Upbit's list: %s", ", ".join(gone))
    return result


def _row(m: ListedMarket, now: datetime) -> UpbitMarket:
    return UpbitMarket(
        market=m.market,
        korean_name=m.korean_name,
        english_name=m.english_name,
        warning=m.warning,
        caution=m.caution,
        listed=True,
        first_seen=now,
        last_seen=now,
        delisted_at=None,
        delisting_alerted=False,
    )


def cached_at() -> datetime | None:
    """When the cached list was last refreshed (None: never)."""
    return UpbitMarket.objects.aggregate(at=Max("last_seen"))["at"]


# --- checks -----------------------------------------------------------------------------------


def uses_upbit_list(source: str | None = None) -> bool:
    """Whether symbols are checked against Upbit's list: only for the `upbit` source."""
    return (source or settings.COINPILOT_MARKET_SOURCE).strip() == "upbit"


def listing_errors(
    symbols: list[str], *, source: str | None = None, now: datetime | None = None
) -> list[str]:
    """Why each symbol cannot be traded on Upbit (empty when all can, or the source is not upbit).

    Symbols must already have the KRW-<TICKER> form. An unknown symbol refreshes a cache older
    than RECHECK_AFTER first; with no cache and Upbit unreachable, one message says so.
    """
    if not symbols or not uses_upbit_list(source):
        return []
    now = now or timezone.now()
    known = _known(symbols)
    problem = ""
    if any(not known.get(s) for s in symbols):
        at = cached_at()
        if at is None or now - at > RECHECK_AFTER:
            problem = _try_refresh(now)
            known = _known(symbols)
    at = cached_at()
    if at is None:
        # Translators: %(problem)s is the error as the HTTP client reported it (in English).
        return [
            _(
                "Upbit's market list could not be loaded (%(problem)s), so the symbols cannot be checked "
                "and nothing was saved; try again when Upbit answers"
            )
            % {"problem": problem}
        ]
    return [message for s in symbols if (message := _listing_error(s, known, at, problem))]


def _listing_error(symbol: str, known: dict[str, UpbitMarket], at: datetime, problem: str) -> str | None:
    row = known.get(symbol)
    if row is not None and row.listed:
        return None
    if row is None and not problem:
        return _("%(symbol)s is not a KRW market on Upbit") % {"symbol": symbol}
    if row is None:  # the cached list may be stale: say from when, and why asking again failed
        return _(
            "%(symbol)s is not a KRW market on Upbit (Upbit's list of %(at)s KST; asking again failed: "
            "%(problem)s)"
        ) % {"symbol": symbol, "at": f"{timezone.localtime(at):%Y-%m-%d %H:%M}", "problem": problem}
    since = timezone.localtime(row.delisted_at or row.last_seen)
    return _("%(symbol)s is no longer listed on Upbit (gone from its market list since %(since)s KST)") % {
        "symbol": symbol,
        "since": f"{since:%Y-%m-%d %H:%M}",
    }


def _known(symbols: list[str]) -> dict[str, UpbitMarket]:
    return {row.market: row for row in UpbitMarket.objects.filter(market__in=symbols)}


def _try_refresh(now: datetime) -> str:
    """Refresh the cache now; '' on success, else what went wrong (in a few words)."""
    client = UpbitClient(max_attempts=SAVE_ATTEMPTS)
    try:
        refresh(client, now=now)
    except (UpbitError, MarketListError, RedisError) as exc:  # Redis holds the shared rate limiter
        log.warning("refreshing Upbit's market list failed: %s", exc)
        return str(exc)[:200]
    finally:
        client.close()
    return ""


def symbol_errors(symbols: list, *, source: str | None = None) -> list[str]:
    """Everything wrong with symbols for `source`: the name format, then (upbit) the list."""
    errors = format_errors(symbols)
    return errors or listing_errors(symbols, source=source)


# --- what the bot reads -----------------------------------------------------------------------


def statuses(symbols: list[str]) -> dict[str, MarketStatus]:
    """The cached status of each symbol Upbit's list knows, in one query."""
    rows = UpbitMarket.objects.filter(market__in=symbols).only(
        "market", "listed", "warning", "caution", "delisting_alerted"
    )
    return {row.market: status_of(row) for row in rows}


def status_of(row: UpbitMarket) -> MarketStatus:
    caution = row.caution if isinstance(row.caution, dict) else {}
    return MarketStatus(
        market=row.market,
        listed=row.listed,
        warning=row.warning,
        cautions=tuple(sorted(name for name, on in caution.items() if on is True)),
        delisting_alerted=row.delisting_alerted,
    )


def alert_delisted(held: list[str], known: dict[str, MarketStatus]) -> list[str]:
    """One `system` alert per delisted market a position is held in; returns the alerted ones.

    The claim is a conditional UPDATE, so two processes never both alert.
    """
    alerted = []
    for symbol in sorted(held):
        status = known.get(symbol)
        if status is None or status.listed or status.delisting_alerted:
            continue
        claimed = UpbitMarket.objects.filter(market=symbol, listed=False, delisting_alerted=False).update(
            delisting_alerted=True
        )
        if claimed:
            alerted.append(symbol)
            with alert_language():
                title = _("%(symbol)s delisted from Upbit while held") % {"symbol": symbol}
                detail = _(
                    "%(symbol)s is gone from Upbit's market list and a position is held in it: no new "
                    "entries; its exits still run, or close it now (admin: Positions, Close at market) "
                    "before Upbit stops trading it."
                ) % {"symbol": symbol}
            notify("system", {"title": title, "detail": detail})
    return alerted


def delisted_held(held: list[str]) -> list[dict]:
    """Held markets that are gone from Upbit's list (for the Overview), in one query."""
    rows = UpbitMarket.objects.filter(market__in=list(held), listed=False).order_by("market")
    return [{"symbol": row.market, "since": row.delisted_at or row.last_seen} for row in rows]
