"""Operator controls used by the admin and the commands: the kill switch and "flatten all"."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.notify import notify

from .config import load_risk
from .cycle import order_id
from .executors import ExecutionError, get_executor
from .executors.base import SellOrder
from .markets import live_candles
from .models import ExitReason, Position, RiskAudit, TradingControl


def set_kill_switch(on: bool, *, reason: str = "", user=None) -> TradingControl:
    """Turn the kill switch on or off (audited and alerted); exits keep running either way."""
    with transaction.atomic():
        control = TradingControl.objects.select_for_update().get(pk=TradingControl.current().pk)
        control.kill_switch, control.reason, control.changed_by = on, reason[:200], user
        control.save()
        description = f"kill switch turned {'ON' if on else 'off'}" + (f": {reason}" if reason else "")
        RiskAudit.objects.create(violation_type="KILL_SWITCH", description=description)
        transaction.on_commit(
            lambda: notify(
                "risk",
                {"kind": "KILL_SWITCH", "symbol": "", "title": "Kill switch", "description": description},
            )
        )
    return control


def flatten_all(symbols: list[str] | None = None, *, reason: str = ExitReason.KILL_SWITCH) -> list[str]:
    """Sell every open position (or those of `symbols`) at market; one line per position."""
    now = timezone.now()
    slot = now.replace(second=0, microsecond=0)
    positions = list(Position.objects.filter(symbol__in=symbols) if symbols else Position.objects.all())
    candles = live_candles([p.symbol for p in positions], now)
    executor, limits, lines = get_executor(), load_risk(), []
    for position in positions:
        close = candles.last_close(position.symbol)
        if close is None:
            lines.append(f"{position.symbol}: no price to sell at; position kept")
            continue
        order = SellOrder(
            symbol=position.symbol,
            quantity=position.quantity,
            reference_price=Decimal(str(close)),
            client_order_id=order_id(position.symbol, slot, "SELL"),
            reason=reason,
            at=now,
            limits=limits,
            strategy_name="operator",
        )
        try:
            trade = executor.sell(order)
        except ExecutionError as exc:
            lines.append(f"{position.symbol}: sell failed ({exc}); position kept")
            continue
        pnl = trade.signal_info.get("pnl")
        lines.append(f"{position.symbol}: sold {trade.quantity} at {trade.price} (PnL {pnl} KRW)")
    return lines
