"""Position management shared by the live cycle and the backtester: how an entry is sized from the
strategy's options, how much a scale-out level sells, the entry fee a sale carries, and when a sold
symbol may be bought again. Pure functions (numbers in, numbers out), so both callers trade the
same quantities to the last satoshi.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from market.ticks import QTY_STEP

from .parameters import RegimeParams
from .risk import Sizing, kelly_cap_pct
from .strategy import stop_distance_pct

FEE_SHARE_STEP = Decimal("0.00000001")
RETURN_STEP = Decimal("0.00000001")


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def kelly_cap(p: RegimeParams, returns: Sequence[Decimal]) -> tuple[Decimal | None, str]:
    """(the Kelly cap in % of equity, how it was set), or (None, "") when off or with fewer than
    `kelly_trades` returns. `returns` are the latest round trips in this regime, newest last."""
    if p.kelly_fraction is None or len(returns) < p.kelly_trades:
        return None, ""
    recent = list(returns)[-p.kelly_trades :]
    text = f" ({p.kelly_fraction:g} x Kelly over the last {p.kelly_trades} trades)"
    return kelly_cap_pct(recent, _decimal(p.kelly_fraction)), text


def entry_sizing(
    p: RegimeParams,
    close: float,
    atr: float | None,
    returns: Sequence[Decimal],
    kelly: tuple[Decimal | None, str] | None = None,
) -> Sizing | None:
    """The sizing options of an entry in regime `p` at `close`; None when every option is off.

    `returns` are the symbol's latest round-trip returns in this regime, newest last (the Kelly
    cap reads the last `kelly_trades` of them and does nothing with fewer); `kelly`, when given,
    is `kelly_cap(p, returns)` already computed.
    """
    if p.risk_per_trade_pct is None and p.kelly_fraction is None:
        return None
    stop = _decimal(stop_distance_pct(p, close, atr)).quantize(Decimal("0.0001"))
    atr_used = p.atr_stop_k is not None and atr is not None and atr == atr
    stop_text = f" (ATR {p.atr_stop_k:g}x)" if atr_used else ""
    cap, kelly_text = kelly if kelly is not None else kelly_cap(p, returns)
    risk = _decimal(p.risk_per_trade_pct) if p.risk_per_trade_pct is not None else None
    return Sizing(stop, stop_text, risk, cap, kelly_text)


def round_trip_return(pnl: Decimal, cost: Decimal) -> Decimal:
    """A closed position's result as a fraction of what it cost (the Kelly cap's input)."""
    return (pnl / cost).quantize(RETURN_STEP) if cost else Decimal(0)


def entry_fee_share(entry_fee: Decimal, held: Decimal, quantity: Decimal) -> Decimal:
    """The part of the remaining entry fee that belongs to `quantity` of `held` (all on a full exit)."""
    if quantity >= held:
        return entry_fee
    return (entry_fee * quantity / held).quantize(FEE_SHARE_STEP)


def scale_out_quantity(
    *, initial: Decimal, held: Decimal, share_pct: float, price: Decimal, min_order: Decimal
) -> Decimal:
    """How much a scale-out sells: `share_pct` % of the entry quantity, at most what is held.

    When the part or the rest would be worth less than the minimum order (Upbit refuses such an
    order, and a rest that small could never be sold), the whole position is sold instead.
    """
    quantity = min((initial * _decimal(share_pct) / 100).quantize(QTY_STEP, rounding=ROUND_DOWN), held)
    if quantity * price < min_order or (held - quantity) * price < min_order:
        return held
    return quantity


def reentry_until(p: RegimeParams | None, last_exit: datetime | None) -> datetime | None:
    """When a symbol sold at `last_exit` may be bought again in regime `p` (None: at once)."""
    if p is None or last_exit is None or not p.reentry_cooldown_minutes:
        return None
    return last_exit + timedelta(minutes=float(p.reentry_cooldown_minutes))
