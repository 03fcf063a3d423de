"""Operator controls used by the admin and the commands: the kill switch and "flatten all"."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

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
                {
                    "kind": "KILL_SWITCH",
                    "symbol": "",
                    "title": gettext_lazy("Kill switch"),
                    "description": description,
                },
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


class NoPosition(ValueError):
    """`close_position` was asked to sell a symbol that is not held."""


def _by(user) -> str:
    return f" (by {user.get_username()})" if user is not None else ""


def pause_entries(*, user=None, reason: str = "") -> TradingControl:
    """Stop new entries without the kill switch (audited); exits keep running."""
    return _set_entries_paused(True, user=user, reason=reason)


def resume_entries(*, user=None) -> TradingControl:
    """Allow new entries again after `pause_entries` (the kill switch, if on, still stops them)."""
    return _set_entries_paused(False, user=user, reason="")


def _set_entries_paused(paused: bool, *, user, reason: str) -> TradingControl:
    with transaction.atomic():
        control = TradingControl.objects.select_for_update().get(pk=TradingControl.current().pk)
        control.entries_paused, control.changed_by = paused, user
        control.save(update_fields=["entries_paused", "changed_by", "changed_at"])
        what = "new entries paused" if paused else "new entries resumed"
        description = what + (f": {reason}" if reason else "") + _by(user)
        kind = "ENTRIES_PAUSED" if paused else "ENTRIES_RESUMED"
        RiskAudit.objects.create(violation_type=kind, description=description[:2000])
        transaction.on_commit(
            lambda: notify(
                "risk",
                {"kind": kind, "symbol": "", "title": gettext_lazy("Entries"), "description": description},
            )
        )
    return control


def close_position(symbol: str, *, user=None, reason: str = ExitReason.MANUAL) -> list[str]:
    """Sell one open position at market (audited with who asked); raises NoPosition if not held."""
    if not Position.objects.filter(symbol=symbol).exists():
        raise NoPosition(f"no open position in {symbol}")
    lines = flatten_all([symbol], reason=reason)
    RiskAudit.objects.create(
        violation_type="MANUAL_CLOSE",
        symbol=symbol,
        description=(f"close {symbol} at market{_by(user)}: " + "; ".join(lines))[:2000],
    )
    return lines


def kill_and_flatten(*, user=None, reason: str = "") -> list[str]:
    """The kill switch on, then every position sold at market (like the admin's action)."""
    set_kill_switch(True, reason=reason or "kill switch and flatten all", user=user)
    lines = flatten_all(reason=ExitReason.KILL_SWITCH)
    RiskAudit.objects.create(
        violation_type="FLATTEN_ALL",
        description=(f"flatten all{_by(user)}: " + ("; ".join(lines) or "nothing held"))[:2000],
    )
    return lines
