"""Stops keep working when candles stop.

When a held symbol's newest bar is older than the cycle's STALE_AFTER_S (an Upbit ban, a dead
collector, a network cut), its protective exits (stop loss, trailing stop, time limit) are decided
on the latest ticker price instead: the same rule, `strategy.exit_signal`, on one synthetic bar at
that price, with take profit and the RSI exit switched off (they wait for real bars). The ticker is
asked once per cycle for every held symbol the cycle trades, and only once one of them is stale.

After each live cycle, `watch` keeps the outage state per symbol in SymbolState (one query for
every symbol) and sends a `system` alert once when a symbol's data stops and once when it is back,
once when a held position has had neither a candle nor a ticker price for
UNPROTECTED_ALERT_SECONDS, and once when it is protected again. The Overview banner reads that
state; `coinpilot_candle_age_seconds` reads the candle table.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.kst import kst_text
from core.notify import alert_language, notify
from core.redis_conn import get_redis
from market.candles import ONE_MINUTE, last_stored_timestamps

from . import cycle_base
from .config import StrategyParams
from .executors.base import SellOrder
from .models import Position, SymbolState
from .strategy import Bars, exit_signal

log = logging.getLogger(__name__)

UNPROTECTED = "UNPROTECTED"  # result reason: a held symbol with neither a fresh candle nor a ticker price
TICKER_AT_KEY = "stale:ticker_at:{symbol}"  # epoch s of the last cycle that had a ticker price
TICKER_AT_TTL = 7 * 86400
KST_MINUTE = "%Y-%m-%d %H:%M KST"


# --- exits on the ticker (called by cycle_base.run_symbol) ------------------------------------------


def exit_on_ticker(
    ctx: cycle_base.Context, symbol: str, position: Position, frame: pd.DataFrame | None
) -> cycle_base.SymbolResult:
    """Stop loss, trailing stop and time limit of a held position whose candles stopped, decided
    on the ticker price; without a price, an UNPROTECTED result (`watch` alerts after a while)."""
    newest = _newest_bar_text(ctx.now, frame)
    prices, why = ticker_prices(ctx)
    quote = prices.get(symbol)
    if quote is None:
        last_close = None if frame is None or frame.empty else float(frame["close"].iloc[-1])
        detail = f"{newest}; no ticker price ({why or 'none for this symbol'}): no exit can fire"
        return cycle_base.SymbolResult(symbol, "SKIPPED", UNPROTECTED, detail, price=last_close)
    regime = ctx.regime(symbol)
    hwm = cycle_base.stored_hwm(position)
    trade = cycle_base.open_trade(position, hwm)
    signal = exit_signal(ticker_bar(float(quote.price), ctx.now), trade, regime, protective(ctx.strategy))
    values = {"close": float(quote.price), "hwm": signal.high_water_mark}  # no RSI on one price
    note = f"on the ticker price {quote.price:,} KRW ({newest})"
    if signal.action != "SELL":
        if signal.high_water_mark > hwm:
            cycle_base.save_hwm(position, signal.high_water_mark)
        summary = cycle_base.position_summary(position, signal)
        detail = f"no stop loss, trailing stop or time limit {note}"
        return cycle_base.SymbolResult(
            symbol, "HOLD", "STALE_DATA", detail, values["close"], regime, values, summary
        )
    detail = f"{signal.detail} {note}"
    order = SellOrder(
        symbol=symbol,
        quantity=position.quantity,
        reference_price=quote.price,
        client_order_id=cycle_base.order_id(symbol, ctx.slot, "SELL"),
        reason=signal.exit_reason,
        at=ctx.now,
        limits=ctx.limits,
        regime=regime,
        strategy_name=cycle_base.STRATEGY_NAME,
        signal_info={
            "exit": detail,
            **values,
            "decided_on": "ticker",
            "ticker_price": str(quote.price),
            "ticker_at": quote.at.isoformat(),
            "newest_bar": newest,
        },
    )
    ctx.executor.sell(order)
    cycle_base.TRADES.labels("SELL").inc()
    cycle_base.EXITS.labels(signal.exit_reason).inc()
    return cycle_base.SymbolResult(
        symbol, "SELL", signal.exit_reason, detail, values["close"], regime, values
    )


def ticker_prices(ctx: cycle_base.Context) -> tuple[dict[str, cycle_base.Quote], str]:
    """This cycle's ticker prices of every held symbol it trades, and why there are none if so:
    asked (one request) for the first stale symbol, then reused by the others."""
    if ctx.tickers is None:
        symbols = sorted(ctx.positions)  # every held symbol is visited, listed in the strategy or not
        try:
            ctx.tickers = (ctx.market.ticker(symbols, ctx.now), "")
        except DatabaseError:
            raise
        except Exception as exc:  # no price is an outcome here (watch alerts), not a cycle error
            log.warning("cycle: no ticker price for %s: %s: %s", ",".join(symbols), type(exc).__name__, exc)
            ctx.tickers = ({}, f"{type(exc).__name__}: {exc}"[:300])
        remember_ticker_times(list(ctx.tickers[0]), ctx.now)
    return ctx.tickers


def ticker_bar(price: float, now: datetime) -> Bars:
    """One synthetic 1-minute bar at `price` that closes `now` (the time limit counts to now)."""
    one = np.array([price], dtype=np.float64)
    return Bars(np.array([int(now.timestamp()) - 60], dtype=np.int64), one, one, one, one, np.zeros(1))


def protective(params: StrategyParams) -> StrategyParams:
    """The same exit rules with take profit, scale-outs and the RSI exit off: a ticker price only
    protects. (An ATR trailing stop falls back to its percentage form: one price has no ATR.)"""
    off = {
        "take_profit_pct": math.inf,
        "atr_take_profit_k": None,
        "partial_tp_1_pct": None,
        "rsi_overbought": math.inf,
    }
    return replace(params, regimes={name: p.model_copy(update=off) for name, p in params.regimes.items()})


def remember_ticker_times(symbols: list[str], now: datetime) -> None:
    if not symbols:
        return
    pipe = get_redis().pipeline(transaction=False)
    for symbol in symbols:
        pipe.set(TICKER_AT_KEY.format(symbol=symbol), int(now.timestamp()), ex=TICKER_AT_TTL)
    pipe.execute()


def ticker_times(symbols: list[str]) -> dict[str, datetime]:
    """When each symbol last had a ticker price (Redis; lost keys only make the alert earlier)."""
    values = get_redis().mget([TICKER_AT_KEY.format(symbol=s) for s in symbols]) if symbols else []
    return {s: datetime.fromtimestamp(int(v), UTC) for s, v in zip(symbols, values, strict=True) if v}


def _newest_bar_text(now: datetime, frame: pd.DataFrame | None) -> str:
    if frame is None or frame.empty:
        return "no bar stored in the last days"
    closed = frame.index[-1].to_pydatetime() + ONE_MINUTE
    return f"newest bar closed {(now - closed).total_seconds():.0f}s ago"


# --- outage state and alerts (after each live cycle) -----------------------------------------


def watch(now: datetime, results: list[cycle_base.SymbolResult]) -> None:
    """Update every symbol's outage state from this cycle and alert on each change."""
    symbols = [r.symbol for r in results]
    if not symbols:
        return
    unpriced = {r.symbol: r.detail for r in results if r.reason == UNPROTECTED}
    newest = last_stored_timestamps(symbols)
    held = dict(Position.objects.filter(symbol__in=symbols).values_list("symbol", "opened_at"))
    priced_at = ticker_times(sorted(unpriced))
    stale = {s for s in symbols if is_stale(now, newest[s], held=s in held)}
    limit = timedelta(seconds=settings.UNPROTECTED_ALERT_SECONDS)

    def last_price(symbol: str) -> datetime:
        known = [held[symbol], priced_at.get(symbol), newest[symbol] and newest[symbol] + ONE_MINUTE]
        return max(t for t in known if t is not None)

    unprotected = {s for s in unpriced if s in held and now - last_price(s) >= limit}
    with transaction.atomic():
        rows = _locked_states(symbols)
        began_stale = [s for s in symbols if s in stale and not (s in rows and rows[s].stale_since)]
        ended_stale = [r for r in rows.values() if r.stale_since and r.symbol not in stale]
        began_unprot = [
            s for s in symbols if s in unprotected and not (s in rows and rows[s].unprotected_since)
        ]
        ended_unprot = [r for r in rows.values() if r.unprotected_since and r.symbol not in unpriced]
        _create_missing(set(began_stale + began_unprot) - set(rows))
        _set(began_stale, now, stale_since=now)
        _set([r.symbol for r in ended_stale], now, stale_since=None)
        _set(began_unprot, now, unprotected_since=now)
        _set([r.symbol for r in ended_unprot], now, unprotected_since=None)
        # Alerts go out on commit. A symbol no longer traded is only cleared, not announced.
        with alert_language():  # the alerts' words, in COINPILOT_ALERT_LANGUAGE
            for symbol in began_stale:
                alert = stopped_alert(symbol, now, newest[symbol], symbol in held, unpriced.get(symbol))
                notify("system", alert)
            for row in (r for r in ended_stale if r.symbol in newest):
                notify("system", back_alert(row, newest[row.symbol]))
            if began_unprot:
                notify("system", unprotected_alert(began_unprot, last_price, unpriced))
            if protected := [r for r in ended_unprot if r.symbol in newest]:
                notify("system", protected_alert(protected, held))


def is_stale(now: datetime, newest_bar: datetime | None, *, held: bool) -> bool:
    """The cycle's rule: no bar closed in the last STALE_AFTER_S. A symbol that never had a bar
    is no outage, unless a position is held in it."""
    if newest_bar is None:
        return held
    return (now - newest_bar - ONE_MINUTE).total_seconds() > cycle_base.STALE_AFTER_S


def _locked_states(symbols: list[str]) -> dict[str, SymbolState]:
    """Every row of these symbols and every row in an outage (a symbol dropped from the strategy
    meanwhile is cleared too), locked until the state is written: one query."""
    wanted = Q(symbol__in=symbols) | Q(stale_since__isnull=False) | Q(unprotected_since__isnull=False)
    return {row.symbol: row for row in SymbolState.objects.select_for_update().filter(wanted)}


def _create_missing(symbols: set[str]) -> None:
    if symbols:
        SymbolState.objects.bulk_create([SymbolState(symbol=s) for s in symbols], ignore_conflicts=True)


def _set(symbols: list[str], now: datetime, **fields) -> None:
    if symbols:
        SymbolState.objects.filter(symbol__in=symbols).update(updated_at=now, **fields)


def _minutes(seconds: float) -> str:
    return _("%(minutes)s min") % {"minutes": f"{seconds / 60:.0f}"}


def stopped_alert(
    symbol: str, now: datetime, newest: datetime | None, held: bool, unpriced: str | None
) -> dict:
    if newest is None:
        detail = _("No 1m bar stored at all.")
    else:
        closed = newest + ONE_MINUTE
        detail = _("No new 1m bar since %(since)s (%(ago)s).") % {
            "since": kst_text(closed, KST_MINUTE),
            "ago": _minutes((now - closed).total_seconds()),
        }
    detail += " " + _("No new entries on it until bars come back.")
    if held and unpriced:
        detail += " " + _("A position is held and there is no ticker price either: %(why)s.") % {
            "why": unpriced
        }
    elif held:
        detail += " " + _(
            "A position is held: its stop loss, trailing stop and time limit run on the ticker price."
        )
    title = _("Market data stopped: %(symbol)s") % {"symbol": symbol}
    return {"title": title, "detail": detail, "level": "warning", "symbol": symbol}


def back_alert(row: SymbolState, newest: datetime | None) -> dict:
    if newest:
        seen = _("newest bar closed %(at)s") % {"at": kst_text(newest + ONE_MINUTE, KST_MINUTE)}
    else:
        seen = _("bars stored again")
    detail = _("Bars again (%(seen)s); the outage was alerted at %(at)s.") % {
        "seen": seen,
        "at": kst_text(row.stale_since, KST_MINUTE),
    }
    return {
        "title": _("Market data back: %(symbol)s") % {"symbol": row.symbol},
        "detail": detail,
        "level": "warning",
        "symbol": row.symbol,
    }


def unprotected_alert(symbols: list[str], last_price, unpriced: dict[str, str]) -> dict:
    lines = [
        _("%(symbol)s: no candle and no ticker price since %(at)s (%(why)s)")
        % {"symbol": s, "at": kst_text(last_price(s), KST_MINUTE), "why": unpriced[s]}
        for s in symbols
    ]
    return {
        "title": _("Positions unprotected: %(symbols)s") % {"symbols": ", ".join(symbols)},
        "detail": _("Stop loss, trailing stop and time limit cannot fire for:") + "\n" + "\n".join(lines),
    }


def protected_alert(rows: list[SymbolState], held: dict) -> dict:
    lines = [
        (
            _("%(symbol)s: a price again (unprotected alert at %(at)s)")
            if r.symbol in held
            else _("%(symbol)s: position closed (unprotected alert at %(at)s)")
        )
        % {"symbol": r.symbol, "at": kst_text(r.unprotected_since, KST_MINUTE)}
        for r in rows
    ]
    symbols = ", ".join(r.symbol for r in rows)
    title = _("Positions protected again: %(symbols)s") % {"symbols": symbols}
    return {"title": title, "detail": "\n".join(lines), "level": "warning"}


# --- what the Overview reads -----------------------------------------------------------


def outages(held: Iterable[str]) -> list[dict]:
    """Symbols in an alerted outage (one query): since when, whether a position is held in it and
    whether that position is unprotected. For the Overview banner."""
    held = set(held)
    rows = SymbolState.objects.filter(Q(stale_since__isnull=False) | Q(unprotected_since__isnull=False))
    return [
        {
            "symbol": row.symbol,
            "stale_since": row.stale_since,
            "held": row.symbol in held,
            "unprotected_since": row.unprotected_since,
        }
        for row in rows.order_by("symbol")
    ]
