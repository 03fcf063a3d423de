"""The bot cycle, one narrative tick for every symbol:

load candles (one query) -> regime -> indicators -> exits for held symbols (HWM kept in Redis and
the Position row) -> entries -> risk -> AI gate -> execute -> `bot:status:{symbol}`.

The candles stay column arrays for all symbols (`market.candles.Candles`), and the entry
indicators of every symbol that may buy are computed in one 2-D batch; a DataFrame is built only
for a symbol that trades or whose data is stale.

Decisions use the bar that just closed, and only that one: the live cycle waits (bounded) for
the collector to store it, and each symbol's bar is claimed before it is decided on, in the
database, so no bar is ever decided twice (trading/decided.py). The inputs come from a `Market`
so that the live job (the database and Redis) and the replay on a simulated clock (in-memory
history, filled at the next bar's open like the backtester) run this very code. One symbol's
error is logged and alerted and does not stop the others.
"""

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import DatabaseError
from django.utils.translation import gettext as _

from agents import gate
from core.logging_context import log_context
from core.notify import alert_language, notify
from core.redis_conn import get_redis
from market.candles import Candles
from market.listing import alert_delisted
from market.models import Regime

from . import backtest_gate, booking, positions, reconcile, risk, stale
from .config import load_risk, load_strategy

# The cycle's vocabulary (its market, context, results, HWM and order-id helpers) lives in
# cycle_base, shared with the stale-data exits; the names stay importable from here.
from .cycle_base import (  # noqa: F401 (re-exported)
    AI_SKIPPED,
    CYCLE_ACTIONS,
    EXITS,
    RISK_BLOCKS,
    STALE_AFTER_S,
    STATUS_KEY,
    STATUS_TTL,
    STRATEGY_NAME,
    TRADES,
    Context,
    Market,
    Quote,
    StageTimer,
    SymbolResult,
    open_trade,
    order_id,
    position_summary,
    result_of,
    save_hwm,
    stored_hwm,
)
from .executors import ExecutionError, Executor
from .executors.base import BuyOrder, OrderRefused, SellOrder
from .models import Position, RiskAudit, TradeMode, TradingControl
from .strategy import Bars, Signal, bars_of, entry_signal, exit_signal, window_indicators

log = logging.getLogger(__name__)


def run_cycle(
    *,
    now: datetime,
    slot: datetime,
    market: Market,
    executor: Executor,
    write_status: bool = True,
    ask_ai: bool = True,
    timer: StageTimer | None = None,
) -> list[SymbolResult]:
    """Run one cycle over every configured or held symbol; return what happened to each."""
    timer = timer or StageTimer()
    hold = ""
    if executor.mode == TradeMode.LIVE:  # unbooked orders and balances first: exits run regardless
        with timer.stage("reconcile"):
            hold = reconcile.before_cycle(executor)
    with timer.stage("config + state"):
        strategy, limits = load_strategy(), load_risk()  # a new config version applies at once
        control = TradingControl.current()
        ctx = Context(
            now=now,
            slot=slot,
            strategy=strategy,
            limits=limits,
            market=market,
            executor=executor,
            positions={p.symbol: p for p in Position.objects.all()},
            kill_switch=control.kill_switch,
            entries_paused=control.entries_paused,
            high_volatility=market.high_volatility(),
            write_status=write_status,
            ask_ai=ask_ai,
            reconcile_hold=hold,
        )
        ctx.expected_bar = expected_bar(now)
        symbols = cycle_symbols(strategy.symbols, ctx.positions)
        ctx.market_status = market.market_status(sorted(symbols))
        alert_delisted(list(ctx.positions), ctx.market_status)
    with timer.stage("wait for bars"):
        deadline = ctx.started + settings.BOT_CYCLE_BAR_WAIT_SECONDS
        market.await_bars(symbols, ctx.expected_bar, deadline)
    with timer.stage("load candles"):
        ctx.candles = as_candles(market.candles(symbols, now))
        ctx.closes = latest_closes(ctx.candles)
    with timer.stage("claim bars"):
        ctx.claimed = market.ledger.claim(bars_to_decide(ctx.candles, ctx.expected_bar))
    with timer.stage("regimes"):
        if market.regimes is not None:
            try:
                ctx.regimes = market.regimes(symbols, now)
            except DatabaseError:
                raise  # as in a symbol's own read: the database is gone, the cycle fails
            except Exception:  # each symbol then reads its own, and fails alone as it did before
                log.exception("cycle: reading every symbol's regime at once failed")
    with timer.stage("indicators"):
        ctx.indicators = entry_indicators(ctx, symbols)
    results = []
    with timer.stage("decide + execute"):
        for symbol in symbols:
            results.append(_run_isolated(ctx, symbol))
    with timer.stage("publish status"):
        if write_status:
            publish_statuses(results, now)
    return results


def cycle_symbols(configured, positions) -> list[str]:
    """The strategy's symbols, then every held symbol the strategy no longer lists: a position
    keeps its stop loss, trailing stop and time limit until it is sold, whatever the config says
    (it gets no new entry: it is held, and once sold it is no longer visited)."""
    configured = list(configured)
    return configured + sorted(set(positions) - set(configured))


def as_candles(found: Candles | Mapping[str, pd.DataFrame]) -> Candles:
    """A market's candles as column arrays (in-memory markets serve one frame per symbol)."""
    return found if isinstance(found, Candles) else Candles.from_frames(found)


def entry_indicators(ctx: Context, symbols: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """The entry indicators of every symbol that may buy this cycle (claimed, not held), computed
    in one batch instead of ~100 small numpy operations per symbol. If the batch fails, each
    symbol computes its own (and fails alone)."""
    flat = [symbol for symbol in symbols if symbol in ctx.claimed and symbol not in ctx.positions]
    try:
        computed = window_indicators([bars_of(ctx.candles, symbol) for symbol in flat], ctx.strategy)
    except Exception:
        log.exception("cycle: the batch of entry indicators failed; each symbol computes its own")
        return {}
    return dict(zip(flat, computed, strict=True))


def _run_isolated(ctx: Context, symbol: str) -> SymbolResult:
    """One symbol's decision; its failure is alerted and does not stop the others."""
    with log_context(symbol=symbol):  # on its log lines and error reports
        try:
            result = run_symbol(ctx, symbol)
        except DatabaseError:
            raise  # the database is gone: the whole cycle fails and the job wrapper alerts
        except Exception as exc:
            log.exception("cycle: %s failed", symbol)
            detail = f"{type(exc).__name__}: {exc}"
            with alert_language():
                title = _("Bot cycle error on %(symbol)s") % {"symbol": symbol}
            notify("system", {"title": title, "detail": detail})
            result = SymbolResult(symbol, "ERROR", type(exc).__name__, str(exc)[:300])
    CYCLE_ACTIONS.labels(result.action).inc()
    return result


def run_symbol(ctx: Context, symbol: str) -> SymbolResult:
    bars = bars_of(ctx.candles, symbol)
    if not len(bars):
        if symbol in ctx.positions:  # held, and no bar for days: the ticker still protects it
            return stale.exit_on_ticker(ctx, symbol, ctx.positions[symbol], ctx.candles.frame(symbol))
        return SymbolResult(symbol, "SKIPPED", "NO_DATA", "no candles stored yet")
    last_bar = datetime.fromtimestamp(int(bars.ts[-1]), UTC)
    age = (ctx.now - last_bar).total_seconds() - 60
    if age > STALE_AFTER_S:
        if symbol in ctx.positions:  # the data stopped: stops go on with the ticker price
            return stale.exit_on_ticker(ctx, symbol, ctx.positions[symbol], ctx.candles.frame(symbol))
        return SymbolResult(
            symbol,
            "SKIPPED",
            "STALE_DATA",
            f"newest bar closed {age:.0f}s ago",
            price=float(bars.close[-1]),
        )
    if symbol not in ctx.claimed:  # each bar is decided on once, and only the one that just closed
        expected, newest = ctx.expected_bar.astimezone(risk.KST), last_bar.astimezone(risk.KST)
        detail = (
            "no new bar since the last decision"
            if newest >= expected
            else f"the {expected:%H:%M} KST bar is not stored yet (newest {newest:%H:%M}): no decision"
        )
        return SymbolResult(symbol, "WAITING", "NO_NEW_BAR", detail, price=float(bars.close[-1]))
    regime = ctx.regime(symbol)
    position = ctx.positions.get(symbol)
    if position is not None:
        return manage_position(ctx, symbol, position, bars, regime)
    return consider_entry(ctx, symbol, bars, regime)


def manage_position(ctx: Context, symbol: str, position: Position, bars: Bars, regime: str) -> SymbolResult:
    """Exit checks in the strategy's order, then the scale-out levels; else raise the high-water
    mark on a new high."""
    hwm = stored_hwm(position)
    trade = open_trade(position, hwm)
    signal = exit_signal(bars, trade, regime, ctx.strategy)
    summary = position_summary(position, signal)
    if signal.action != "SELL":
        if signal.high_water_mark > hwm:
            save_hwm(position, signal.high_water_mark)
        return result_of(symbol, "HOLD", signal, regime, summary)
    quote = ctx.market.quote(symbol, ctx.now, ctx.candles.frame(symbol))
    quantity, info = position.quantity, {"exit": signal.detail, **signal.values}
    if signal.partial_levels:
        quantity = positions.scale_out_quantity(
            initial=position.initial_quantity or position.quantity,
            held=position.quantity,
            share_pct=signal.sell_share_pct,
            price=quote.price,
            min_order=ctx.limits.min_order_krw,
        )
        info["partial_levels_done"] = signal.partial_levels
        if signal.high_water_mark > hwm:  # the rest keeps its high-water mark
            save_hwm(position, signal.high_water_mark)
    order = SellOrder(
        symbol=symbol,
        quantity=quantity,
        reference_price=quote.price,
        client_order_id=order_id(symbol, ctx.slot, "SELL"),
        reason=signal.exit_reason,
        at=quote.at,
        limits=ctx.limits,
        regime=regime,
        strategy_name=STRATEGY_NAME,
        signal_info=info,
    )
    ctx.executor.sell(order)
    refresh_position(ctx, symbol)
    TRADES.labels("SELL").inc()
    EXITS.labels(signal.exit_reason).inc()
    return result_of(symbol, "SELL", signal, regime, None)


def refresh_position(ctx: Context, symbol: str) -> None:
    """After a fill, the symbols decided later in this cycle see the position as it now is (the
    limits on positions and exposure count an entry made a moment ago)."""
    position = Position.objects.filter(symbol=symbol).first()
    if position is None:
        ctx.positions.pop(symbol, None)
    else:
        ctx.positions[symbol] = position


def consider_entry(ctx: Context, symbol: str, bars: Bars, regime: str) -> SymbolResult:
    """Entry checks -> risk -> AI gate -> buy."""
    signal = entry_signal(bars, regime, ctx.strategy, ctx.indicators.get(symbol))
    if signal.action != "BUY":
        return result_of(symbol, "HOLD", signal, regime)
    size, block = risk.decide_entry(entry_context(ctx, symbol, regime, signal))
    if block is None and ctx.ask_ai:  # the optional backtest gate (off by default; never in a replay)
        refusal = backtest_gate.gate_refusal(symbol, ctx.now)
        block = risk.Block("BACKTEST_GATE", refusal) if refusal else None
    if block is not None:
        record_block(block, symbol, order_id(symbol, ctx.slot, "BUY"), ctx.now)
        RISK_BLOCKS.labels(block.violation_type).inc()
        return SymbolResult(
            symbol,
            "BLOCKED",
            block.violation_type,
            block.description,
            signal.values.get("close"),
            regime,
            signal.values,
        )
    frame = ctx.candles.frame(symbol)  # the gate and the quote read a DataFrame; built for a buy only
    verdict = (
        ask_gate(ctx, symbol, regime, signal, frame) if ctx.ask_ai else gate.GateVerdict(True, AI_SKIPPED)
    )
    if not verdict.approved:
        return SymbolResult(
            symbol, "VETOED", "AI_REJECT", verdict.reason, signal.values.get("close"), regime, signal.values
        )
    quote = ctx.market.quote(symbol, ctx.now, frame)
    order = BuyOrder(
        symbol=symbol,
        krw=size.krw,
        reference_price=quote.price,
        client_order_id=order_id(symbol, ctx.slot, "BUY"),
        regime=regime,
        at=quote.at,
        strategy_name=STRATEGY_NAME,
        signal_info={"entry": signal.detail, "ai": verdict.reason, "sizing": size.reason, **signal.values},
        limits=ctx.limits,
    )
    try:
        ctx.executor.buy(order)
    except OrderRefused as exc:
        price = signal.values.get("close")
        if not exc.rule:
            return SymbolResult(symbol, "SKIPPED", "ORDER_FAILED", str(exc), price, regime)
        RISK_BLOCKS.labels(exc.rule).inc()  # the executor audited it (it saw the order book)
        return SymbolResult(symbol, "BLOCKED", exc.rule, str(exc), price, regime)
    except (ExecutionError, booking.BookingError) as exc:
        return SymbolResult(symbol, "SKIPPED", "ORDER_FAILED", str(exc), signal.values.get("close"), regime)
    refresh_position(ctx, symbol)
    TRADES.labels("BUY").inc()
    return result_of(
        symbol, "BUY", signal, regime, detail=f"{signal.detail}; {size.reason}; {verdict.reason}"
    )


def entry_context(
    ctx: Context, symbol: str, regime: str = "", signal: Signal | None = None
) -> risk.EntryContext:
    account = booking.account_for(ctx.executor.mode)
    row = booking.day_row(ctx.now, account)
    exposure = sum((p.quantity * p.avg_price for p in ctx.positions.values()), Decimal(0))
    return risk.EntryContext(
        symbol=symbol,
        now=ctx.now,
        cash=account.balance,
        exposure=exposure,
        open_positions=len(ctx.positions),
        day=booking.day_state(row),
        limits=ctx.limits,
        high_volatility=ctx.high_volatility,
        kill_switch=ctx.kill_switch,
        entries_paused=ctx.entries_paused,
        held_symbols=frozenset(ctx.positions),
        reconcile_hold=ctx.reconcile_hold,
        marked_exposure=marked_exposure(ctx),
        market_status=ctx.market_status.get(symbol),
        sizing=entry_sizing(ctx, symbol, regime, signal),
        reentry_until=positions.reentry_until(ctx.strategy.for_regime(regime), last_exit(ctx, symbol)),
    )


def entry_sizing(ctx: Context, symbol: str, regime: str, signal: Signal | None) -> risk.Sizing | None:
    """The strategy's sizing options for this entry (None: the fixed max position size)."""
    p = ctx.strategy.for_regime(regime)
    if p is None or signal is None:
        return None
    returns = booking.recent_returns(symbol, regime, p.kelly_trades) if p.kelly_fraction is not None else []
    return positions.entry_sizing(p, signal.values["close"], signal.values.get("atr14"), returns)


def last_exit(ctx: Context, symbol: str):
    """When `symbol` was last sold (one query for every symbol, once per cycle, only when some
    regime has a re-entry cooldown)."""
    if not any(p.reentry_cooldown_minutes for p in ctx.strategy.regimes.values()):
        return None
    if ctx.last_exits is None:
        ctx.last_exits = booking.last_exits()
    return ctx.last_exits.get(symbol)


def latest_closes(candles: Candles) -> dict[str, float]:
    return {
        symbol: float(candles.close[end - 1])
        for symbol, start, end in zip(candles.symbols, candles.starts, candles.ends, strict=True)
        if end > start
    }


def marked_exposure(ctx: Context) -> Decimal:
    """Open positions at this cycle's latest closes (at cost where a symbol has no bar)."""
    return sum(
        (
            p.quantity * (Decimal(str(ctx.closes[s])) if s in ctx.closes else p.avg_price)
            for s, p in ctx.positions.items()
        ),
        Decimal(0),
    )


def ask_gate(ctx: Context, symbol: str, regime: str, signal: Signal, frame: pd.DataFrame) -> gate.GateVerdict:
    """The AI's veto; if asking fails, the answer is no.

    One agent run may take up to 40 s, and the whole cycle has 55 s: once AI_CYCLE_BUDGET_SECONDS
    of this cycle are spent, a further buy is vetoed for now and asked again on its next bar.
    """
    spent = time.monotonic() - ctx.started
    if gate.enabled() and spent > settings.AI_CYCLE_BUDGET_SECONDS:
        return gate.GateVerdict(False, f"AI: not asked, {spent:.0f} s of this cycle already spent")
    params = ctx.strategy.for_regime(regime)
    request = gate.GateRequest(
        symbol=symbol,
        regime=regime,
        price=Decimal(str(signal.values["close"])),
        indicators=signal.values,
        candles=frame,
        reason=signal.detail,
        max_drop_pct_6h=params.ai_prefilter_max_drop_pct_6h if params else None,
    )
    try:
        return gate.ask(request)
    except Exception as exc:
        log.exception("AI gate failed for %s", symbol)
        return gate.GateVerdict(False, f"AI gate error: {type(exc).__name__}: {exc}"[:500])


def record_block(block: risk.Block, symbol: str, order: str, at: datetime) -> None:
    RiskAudit.objects.create(
        violation_type=block.violation_type,
        description=block.description,
        symbol=symbol,
        related_order_id=order,
        created_at=at,  # the decision time (a replay records its simulated time)
    )
    notify(
        "risk",
        {
            "kind": block.violation_type,
            "symbol": symbol,
            "title": block.violation_type,
            "description": block.description,
        },
    )


def expected_bar(now: datetime) -> datetime:
    """Open time of the 1m bar that closed at the last minute boundary: the one to decide on."""
    return now.replace(second=0, microsecond=0) - timedelta(minutes=1)


def bars_to_decide(candles: Candles, expected: datetime) -> dict[str, datetime]:
    """Symbols whose newest loaded bar is the expected one (an older bar is never decided on)."""
    at = expected.timestamp()
    return {
        symbol: expected
        for symbol, start, end in zip(candles.symbols, candles.starts, candles.ends, strict=True)
        if end > start and candles.ts[end - 1] >= at
    }


def publish_statuses(results: list[SymbolResult], now: datetime) -> None:
    """`bot:status:{symbol}` for the dashboard, in one round trip: built-in JSON types only."""
    ai = gate.AI_OFF if not gate.enabled() else "on"
    pipe = get_redis().pipeline(transaction=False)
    for result in results:
        status = {
            "price": result.price,
            "regime": result.regime or Regime.UNKNOWN,
            "indicators": result.indicators,
            "position": result.position,
            "action": result.action,
            "reason": result.reason,
            "detail": result.detail,
            "ai": ai,
            "at": now.isoformat(),
        }
        pipe.set(STATUS_KEY.format(symbol=result.symbol), json.dumps(status, default=str), ex=STATUS_TTL)
    pipe.execute()
