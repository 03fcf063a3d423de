"""Operator controls used by the admin and the commands: the kill switch and "flatten all"."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from core import formatting
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


SALE_LINES = {
    "no_price": gettext_lazy("%(symbol)s: no price to sell at; position kept"),
    # Translators: %(error)s is the exchange's error text (English).
    "failed": gettext_lazy("%(symbol)s: sell failed (%(error)s); position kept"),
    # Translators: e.g. "KRW-BTC: sold 0.001 at 50,000,000 (PnL +1,234 KRW)".
    "sold": gettext_lazy("%(symbol)s: sold %(quantity)s at %(price)s (PnL %(pnl)s)"),
}


@dataclass(frozen=True)
class Sale:
    """What selling one position at market came to: an outcome (a SALE_LINES key) and its figures,
    worded when read, so one sale reads in the operator's language and in the audit's."""

    outcome: str
    symbol: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    pnl: object = None
    error: str = ""

    def line(self) -> str:
        """The sale in the active language: "KRW-BTC: sold 0.001 at 50,000,000 (PnL +1,234 KRW)"."""
        return str(SALE_LINES[self.outcome]) % {
            "symbol": self.symbol,
            "quantity": formatting.quantity(self.quantity),
            "price": formatting.price(self.price),
            "pnl": formatting.krw(self.pnl, sign=True),
            "error": self.error,
        }


def _audited(sales: list[Sale]) -> list[str]:
    """The sale lines stored in RiskAudit: English, like every audit description here (the reasons
    from Telegram too), so the audit log reads the same whoever acted; replies are worded apart."""
    with translation.override("en"):
        return [sale.line() for sale in sales]


def flatten_all(symbols: list[str] | None = None, *, reason: str = ExitReason.KILL_SWITCH) -> list[str]:
    """Sell every open position (or those of `symbols`) at market; one line per position, in the
    active language."""
    return [sale.line() for sale in sell_at_market(symbols, reason=reason)]


def sell_at_market(symbols: list[str] | None = None, *, reason: str = ExitReason.KILL_SWITCH) -> list[Sale]:
    """Sell every open position (or those of `symbols`) at market; what came of each."""
    now = timezone.now()
    slot = now.replace(second=0, microsecond=0)
    positions = list(Position.objects.filter(symbol__in=symbols) if symbols else Position.objects.all())
    candles = live_candles([p.symbol for p in positions], now)
    executor, limits, sales = get_executor(), load_risk(), []
    for position in positions:
        close = candles.last_close(position.symbol)
        if close is None:
            sales.append(Sale("no_price", position.symbol))
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
            sales.append(Sale("failed", position.symbol, error=str(exc)))
            continue
        pnl = trade.signal_info.get("pnl")
        sales.append(Sale("sold", position.symbol, trade.quantity, trade.price, pnl))
    return sales


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
    sales = sell_at_market([symbol], reason=reason)
    RiskAudit.objects.create(
        violation_type="MANUAL_CLOSE",
        symbol=symbol,
        description=(f"close {symbol} at market{_by(user)}: " + "; ".join(_audited(sales)))[:2000],
    )
    return [sale.line() for sale in sales]


def kill_and_flatten(*, user=None, reason: str = "") -> list[str]:
    """The kill switch on, then every position sold at market (like the admin's action)."""
    set_kill_switch(True, reason=reason or "kill switch and flatten all", user=user)
    sales = sell_at_market(reason=ExitReason.KILL_SWITCH)
    RiskAudit.objects.create(
        violation_type="FLATTEN_ALL",
        description=(f"flatten all{_by(user)}: " + ("; ".join(_audited(sales)) or "nothing held"))[:2000],
    )
    return [sale.line() for sale in sales]
