"""Booking fills: cash, position, trade and the day's risk counters change in ONE transaction.

Every booking first locks the account row (`select_for_update`), so bookings are serialised and
a retried or duplicated cycle finds the trade already there: `client_order_id` is unique and a
second booking of the same id returns the first trade instead of trading twice. A crash at any
point inside leaves the whole booking or none of it. Notifications and Redis (HWM) follow only
after the commit.

Accounting identity (checked by the tests after every scenario):
    cash + positions at cost + fees paid == initial cash + gross realized PnL
"""

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum

from core.notify import notify
from core.redis_conn import get_redis

from . import risk
from .config import RiskLimits
from .fills import Fill
from .models import Account, DailyRiskState, Position, RiskAudit, Trade, TradeMode, TradeStatus
from .positions import entry_fee_share, round_trip_return

PCT = Decimal(100)


class BookingError(Exception):
    """The fill cannot be booked as asked (no cash, no position, already holding)."""


def decimal_str(value: Decimal) -> str:
    """Plain positional text for a Decimal (never '1E+8'), without trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def hwm_key(symbol: str) -> str:
    return f"position:{symbol}:hwm"


def account_for(mode: str) -> Account:
    """The KRW account of a trading mode (paper and replay share the paper account)."""
    name = "live" if mode == TradeMode.LIVE else "paper"
    initial = Decimal(settings.COINPILOT_PAPER_INITIAL_KRW) if name == "paper" else Decimal(0)
    return Account.objects.get_or_create(name=name, defaults={"balance": initial})[0]


def exposure_at_cost() -> Decimal:
    """Sum of open positions at their entry price."""
    total = Position.objects.aggregate(total=Sum(F("quantity") * F("avg_price")))["total"]
    return total or Decimal(0)


def paper_books_gap() -> Decimal | None:
    """cash + positions at cost + fees paid - (initial cash + gross realised PnL) of the paper
    account: zero when every krw moved through booking (None before the account exists). Open
    positions are all the paper account's unless a live one exists (then None: not comparable)."""
    account = Account.objects.filter(name="paper").first()
    if account is None or Trade.objects.filter(mode=TradeMode.LIVE).exists():
        return None
    booked = Trade.objects.filter(status=TradeStatus.FILLED).exclude(mode=TradeMode.LIVE)
    fees = booked.aggregate(total=Sum("fee"))["total"] or Decimal(0)
    sales = list(booked.filter(side="SELL").values_list("signal_info", flat=True))
    if any("gross_pnl" not in info for info in sales):
        return None  # rows written outside booking (fixtures): nothing to compare
    gross = sum((Decimal(info["gross_pnl"]) for info in sales), Decimal(0))
    initial = Decimal(settings.COINPILOT_PAPER_INITIAL_KRW)
    return account.balance + exposure_at_cost() + fees - (initial + gross)


def day_row(at: datetime, account: Account) -> DailyRiskState:
    """Today's (KST) risk row. Call under the account lock.

    A new day's row starts with the day's equity and continues the latest earlier row (loss
    streak, cooldown, and the week's numbers within the same KST week): `risk.open_day`, the
    same function the backtester uses.
    """
    today = risk.kst_day(at)
    row = DailyRiskState.objects.filter(date=today).first()
    if row is None:
        previous = DailyRiskState.objects.filter(date__lt=today).order_by("-date").first()
        state = risk.open_day(
            today,
            account.balance + exposure_at_cost(),
            day_state(previous) if previous else None,
            previous.date if previous else None,
        )
        row = DailyRiskState(date=today)
        _save_day(row, state)
    return row


def day_state(row: DailyRiskState) -> risk.DayState:
    return risk.DayState(
        starting_equity=row.starting_equity,
        total_pnl=row.total_pnl,
        trade_count=row.trade_count,
        consecutive_losses=row.consecutive_losses,
        cooldown_until=row.cooldown_until,
        is_trading_halted=row.is_trading_halted,
        halt_reason=row.halt_reason,
        week_starting_equity=row.week_starting_equity,
        week_pnl=row.week_pnl,
        is_week_halted=row.is_week_halted,
    )


def _save_day(row: DailyRiskState, state: risk.DayState) -> None:
    for name, value in asdict(state).items():
        setattr(row, name, value)
    row.save()


def _locked_account(mode: str) -> Account:
    account_for(mode)  # make sure the row exists before locking it
    name = "live" if mode == TradeMode.LIVE else "paper"
    return Account.objects.select_for_update().get(name=name)


def book_buy(
    *,
    symbol: str,
    fill: Fill,
    client_order_id: str,
    regime: str,
    at: datetime,
    strategy_name: str = "",
    signal_info: dict | None = None,
    mode: str = TradeMode.PAPER,
    exchange_order_id: str = "",
    slippage: dict | None = None,
) -> Trade:
    """Book an entry fill: pay amount + fee, open the position, count the day's entry.

    `slippage` holds the trade's expected_/realised_slippage_bps (omitted keys stay as they are).
    """
    with transaction.atomic():
        account = _locked_account(mode)
        existing = Trade.objects.filter(client_order_id=client_order_id).first()
        if existing is not None and existing.status != TradeStatus.PENDING:
            return existing
        cost = fill.amount + fill.fee
        if account.balance < cost:
            raise BookingError(f"{symbol}: needs {cost:,.0f} KRW, balance is {account.balance:,.0f} KRW")
        if Position.objects.filter(symbol=symbol).exists():
            raise BookingError(f"{symbol}: a position is already open")
        row = day_row(at, account)
        account.balance -= cost
        account.save(update_fields=["balance", "updated_at"])
        Position.objects.create(
            symbol=symbol,
            quantity=fill.quantity,
            avg_price=fill.price,
            regime=regime,
            high_water_mark=fill.price,
            opened_at=at,
            entry_signal=signal_info or {},
            entry_fee=fill.fee,
            initial_quantity=fill.quantity,
        )
        trade = _create_trade(
            symbol=symbol,
            fill=fill,
            client_order_id=client_order_id,
            regime=regime,
            at=at,
            strategy_name=strategy_name,
            signal_info=signal_info or {},
            mode=mode,
            exchange_order_id=exchange_order_id,
            pending=existing,
            **(slippage or {}),
        )
        row.trade_count += 1
        row.save(update_fields=["trade_count", "updated_at"])
        transaction.on_commit(lambda: _after_buy(trade))
    return trade


def book_sell(
    *,
    symbol: str,
    fill: Fill,
    client_order_id: str,
    reason: str,
    at: datetime,
    limits: RiskLimits,
    regime: str = "",
    strategy_name: str = "",
    signal_info: dict | None = None,
    mode: str = TradeMode.PAPER,
    exchange_order_id: str = "",
    slippage: dict | None = None,
) -> Trade:
    """Book an exit fill: receive amount - fee, close the position, update the day's risk state."""
    with transaction.atomic():
        account = _locked_account(mode)
        existing = Trade.objects.filter(client_order_id=client_order_id).first()
        if existing is not None and existing.status != TradeStatus.PENDING:
            return existing
        position = Position.objects.select_for_update().filter(symbol=symbol).first()
        if position is None:
            raise BookingError(f"{symbol}: no open position to sell")
        row = day_row(at, account)
        account.balance += fill.amount - fill.fee
        account.save(update_fields=["balance", "updated_at"])
        info = (signal_info or {}) | _exit_numbers(position, fill, at)
        trade = _create_trade(
            symbol=symbol,
            fill=fill,
            client_order_id=client_order_id,
            regime=regime or position.regime,
            at=at,
            strategy_name=strategy_name,
            signal_info=info,
            mode=mode,
            exchange_order_id=exchange_order_id,
            exit_reason=reason,
            pending=existing,
            **(slippage or {}),
        )
        closed = _reduce_position(position, fill, info.get("partial_levels_done"))
        state = day_state(row)
        events = risk.record_exit(state, Decimal(info["pnl"]), limits, at)
        _save_day(row, state)
        for event in events:
            RiskAudit.objects.create(
                violation_type=event.violation_type,
                description=event.description,
                symbol=symbol,
                related_order_id=client_order_id,
                created_at=at,
            )
        transaction.on_commit(lambda: _after_sell(trade, events, closed))
    return trade


def _exit_numbers(position: Position, fill: Fill, at: datetime) -> dict:
    """Realized PnL of an exit, net of both fees, plus what analytics needs later.

    A position is one lot (one entry, no adding), so a sale is matched first-in-first-out against
    that lot: its share of the entry quantity at the entry price, and the same share of the entry
    fee still unpaid (a partial sale's share rounded to 8 decimals, the last sale takes the rest).
    """
    entry_fee = entry_fee_share(position.entry_fee, position.quantity, fill.quantity)
    cost = position.avg_price * fill.quantity + entry_fee
    pnl = (fill.price - position.avg_price) * fill.quantity - fill.fee - entry_fee
    return {
        "entry_avg_price": decimal_str(position.avg_price),
        "entry_fee": decimal_str(entry_fee),
        "entry_cost": decimal_str(cost),
        "entry_regime": position.regime,
        "opened_at": position.opened_at.isoformat(),
        "held_minutes": round((at - position.opened_at).total_seconds() / 60),
        "pnl": decimal_str(pnl.quantize(Decimal("0.00000001"))),
        "pnl_pct": decimal_str((pnl / cost * PCT).quantize(Decimal("0.0001"))) if cost else "0",
        "gross_pnl": decimal_str((fill.price - position.avg_price) * fill.quantity),
    }


def _reduce_position(position: Position, fill: Fill, partial_levels_done: int | None = None) -> bool:
    """Close the position, or keep the unsold rest (a scale-out, or a partial live fill) with its
    high-water mark; True when closed. A scale-out records how many levels are now sold."""
    if fill.quantity >= position.quantity:
        position.delete()
        return True
    position.entry_fee -= entry_fee_share(position.entry_fee, position.quantity, fill.quantity)
    position.quantity -= fill.quantity
    if partial_levels_done is not None:
        position.partials_taken = max(position.partials_taken, int(partial_levels_done))
    position.save(update_fields=["quantity", "entry_fee", "partials_taken", "updated_at"])
    return False


def last_exits() -> dict[str, datetime]:
    """When each symbol was last sold (one query)."""
    rows = (
        Trade.objects.filter(side="SELL", status=TradeStatus.FILLED)
        .values("symbol")
        .annotate(last=Max("executed_at"))
    )
    return {row["symbol"]: row["last"] for row in rows if row["last"] is not None}


def recent_returns(symbol: str, regime: str, count: int) -> list[Decimal]:
    """The latest `count` closed positions of `symbol` entered in `regime`, as round-trip returns
    (all their sales' PnL over all their cost), oldest first: the Kelly cap's input.

    Sales are grouped by the position they closed (its opening time); sales booked before the
    entry regime was recorded on them are not counted.
    """
    sells = (
        Trade.objects.filter(
            side="SELL", status=TradeStatus.FILLED, symbol=symbol, signal_info__entry_regime=regime
        )
        .order_by("-executed_at", "-id")
        .values_list("signal_info", flat=True)[: count * 4]  # at most 3 scale-outs and the exit each
    )
    trips: dict[str, list[Decimal]] = {}
    for info in sells:
        pnl_cost = trips.setdefault(info.get("opened_at", ""), [Decimal(0), Decimal(0)])
        pnl_cost[0] += Decimal(info["pnl"])
        pnl_cost[1] += Decimal(info["entry_cost"])
    if len(sells) == count * 4:
        trips.popitem()  # the oldest position may have lost sales to the limit
    newest_first = [round_trip_return(pnl, cost) for pnl, cost in trips.values()]
    return newest_first[:count][::-1]


def record_pending(
    *, symbol: str, side: str, client_order_id: str, price: Decimal, **fields
) -> tuple[Trade, bool]:
    """Persist an order's intent as PENDING, committed before it is sent (live: the crash record).

    Idempotent: an order id already known returns its row as it is (pending, booked or failed)
    and False, so the caller looks the order up instead of sending it again.
    """
    with transaction.atomic():
        trade, created = Trade.objects.get_or_create(
            client_order_id=client_order_id,
            defaults={
                "symbol": symbol,
                "side": side,
                "price": price,
                "quantity": fields.pop("quantity", Decimal(0)),
                "status": TradeStatus.PENDING,
                **fields,
            },
        )
    return trade, created


def mark_failed(client_order_id: str, reason: str) -> bool:
    """A PENDING order that executed nothing becomes FAILED (with why); False if it was not pending."""
    with transaction.atomic():
        trade = Trade.objects.select_for_update().filter(client_order_id=client_order_id).first()
        if trade is None or trade.status != TradeStatus.PENDING:
            return False
        trade.status = TradeStatus.FAILED
        trade.signal_info = trade.signal_info | {"failure": reason[:500]}
        trade.save(update_fields=["status", "signal_info"])
    return True


def _create_trade(
    *,
    fill: Fill,
    client_order_id: str,
    at: datetime,
    exit_reason: str = "",
    pending: Trade | None = None,
    **fields,
) -> Trade:
    if pending is not None:  # a live order recorded before sending: complete that row
        fields["exchange_order_id"] = fields.get("exchange_order_id") or pending.exchange_order_id
        for name, value in fields.items():
            setattr(pending, name, value)
        pending.price, pending.quantity, pending.fee = fill.price, fill.quantity, fill.fee
        pending.status, pending.executed_at, pending.exit_reason = TradeStatus.FILLED, at, exit_reason
        pending.save()
        return pending
    try:
        with transaction.atomic():
            return Trade.objects.create(
                side=fill.side,
                price=fill.price,
                quantity=fill.quantity,
                fee=fill.fee,
                status=TradeStatus.FILLED,
                client_order_id=client_order_id,
                executed_at=at,
                exit_reason=exit_reason,
                **fields,
            )
    except IntegrityError as exc:  # the account lock makes this unreachable; never book twice anyway
        raise BookingError(f"order {client_order_id} was booked concurrently") from exc


def _after_buy(trade: Trade) -> None:
    get_redis().set(hwm_key(trade.symbol), decimal_str(trade.price))
    notify("trade", _trade_payload(trade))


def _after_sell(trade: Trade, events: list[risk.Block], closed: bool = True) -> None:
    if closed:
        get_redis().delete(hwm_key(trade.symbol))
    notify("trade", _trade_payload(trade))
    for event in events:
        notify(
            "risk",
            {
                "kind": event.violation_type,
                "symbol": trade.symbol,
                "title": event.violation_type,
                "description": event.description,
            },
        )


def _trade_payload(trade: Trade) -> dict:
    payload = {
        "symbol": trade.symbol,
        "side": trade.side,
        "price": decimal_str(trade.price),
        "quantity": decimal_str(trade.quantity),
        "amount": decimal_str(trade.amount),
        "fee": decimal_str(trade.fee),
        "strategy": trade.strategy_name,
        "regime": trade.regime,
        "mode": trade.mode,
        "executed_at": trade.executed_at.isoformat() if trade.executed_at else None,
    }
    if trade.side == "SELL":
        payload |= {
            "exit_reason": trade.exit_reason,
            "pnl": trade.signal_info.get("pnl"),
            "pnl_pct": trade.signal_info.get("pnl_pct"),
        }
        if trade.signal_info.get("partial_levels_done"):
            payload["scale_out_level"] = trade.signal_info["partial_levels_done"]
    elif trade.signal_info.get("sizing"):
        payload["sizing"] = trade.signal_info["sizing"]
    return payload
