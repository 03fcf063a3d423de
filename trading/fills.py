"""The one fill model: Upbit KRW tick sizes, 0.05 % fee, slippage in bps, 5,000 KRW minimum.

The backtester and the paper executor both fill through these functions, so a simulated trade
costs what a paper trade costs. Prices move against us by the slippage and are then rounded to
the tick in the unfavourable direction (a buy rounds up, a sell rounds down).

When an order book is at hand (paper trading on a source that has one), a fill instead walks its
levels: the price is the volume-weighted average of the levels used, as an exchange reports it.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from market.ticks import QTY_STEP, SMALLEST_TICK, TICKS, round_to_tick, tick_size

from .liquidity import Level, Liquidity, walk_asks, walk_bids

__all__ = [
    "QTY_STEP",
    "SMALLEST_TICK",
    "TICKS",
    "round_to_tick",
    "tick_size",
]  # the exchange's grid, re-exported

FEE_RATE = Decimal("0.0005")  # Upbit KRW market, maker and taker
MIN_ORDER_KRW = Decimal("5000")
PRICE_STEP = Decimal("0.00000001")  # an average price off the tick grid, kept to 8 decimals
BPS = Decimal("10000")


class BelowMinimumOrder(ValueError):
    """The order is worth less than Upbit's minimum (5,000 KRW)."""


@dataclass(frozen=True)
class Fill:
    """A simulated fill: price per unit, quantity, fee in KRW, and the KRW that changed hands."""

    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal

    @property
    def amount(self) -> Decimal:
        return self.price * self.quantity

    @property
    def cash_change(self) -> Decimal:
        """Signed change of the KRW balance: a buy pays amount + fee, a sell receives amount - fee."""
        return -(self.amount + self.fee) if self.side == "BUY" else self.amount - self.fee


def slipped_price(reference: Decimal, side: str, slippage_bps: Decimal) -> Decimal:
    """Reference price moved against us by the slippage, on a valid tick."""
    factor = slippage_bps / BPS
    raw = reference * (1 + factor) if side == "BUY" else reference * (1 - factor)
    return round_to_tick(raw, side)


def _money(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def buy_fill(
    *,
    krw: Decimal,
    reference: Decimal,
    slippage_bps: Decimal = Decimal(0),
    min_order: Decimal = MIN_ORDER_KRW,
) -> Fill:
    """Spend at most `krw` (fee included) at the reference price plus slippage."""
    krw, reference, slippage_bps = _money(krw), _money(reference), _money(slippage_bps)
    price = slipped_price(reference, "BUY", slippage_bps)
    quantity = (krw / (price * (1 + FEE_RATE))).quantize(QTY_STEP, rounding=ROUND_DOWN)
    if price * quantity < min_order:
        value = price * quantity
        raise BelowMinimumOrder(f"buy of {value:,.0f} KRW is below the {min_order:,.0f} KRW minimum")
    return Fill("BUY", price, quantity, (price * quantity * FEE_RATE).quantize(QTY_STEP))


def sell_fill(*, quantity: Decimal, reference: Decimal, slippage_bps: Decimal = Decimal(0)) -> Fill:
    """Sell `quantity` at the reference price minus slippage (exits are never refused for size)."""
    quantity, reference, slippage_bps = _money(quantity), _money(reference), _money(slippage_bps)
    price = slipped_price(reference, "SELL", slippage_bps)
    return Fill("SELL", price, quantity, (price * quantity * FEE_RATE).quantize(QTY_STEP))


def book_buy_fill(
    *, krw: Decimal, asks: list[Level] | tuple[Level, ...], min_order: Decimal = MIN_ORDER_KRW
) -> tuple[Fill | None, Liquidity]:
    """Spend at most `krw` (fee included) on the asks; (None, why) when the book cannot fill it.

    As on Upbit, the fee comes on top: the book is walked for krw / (1 + fee).
    """
    spend = _money(krw) / (1 + FEE_RATE)
    liquidity = walk_asks(asks, spend)
    if not liquidity.fillable:
        return None, liquidity
    price = liquidity.average_price.quantize(PRICE_STEP, rounding=ROUND_CEILING)
    quantity = (spend / price).quantize(QTY_STEP, rounding=ROUND_DOWN)
    if price * quantity < min_order:
        value = price * quantity
        raise BelowMinimumOrder(f"buy of {value:,.0f} KRW is below the {min_order:,.0f} KRW minimum")
    return Fill("BUY", price, quantity, (price * quantity * FEE_RATE).quantize(QTY_STEP)), liquidity


def book_sell_fill(
    *, quantity: Decimal, bids: list[Level] | tuple[Level, ...]
) -> tuple[Fill | None, Liquidity]:
    """Sell `quantity` into the bids; (None, why) when they cannot take it all."""
    quantity = _money(quantity)
    liquidity = walk_bids(bids, quantity)
    if not liquidity.fillable:
        return None, liquidity
    price = liquidity.average_price.quantize(PRICE_STEP, rounding=ROUND_FLOOR)
    return Fill("SELL", price, quantity, (price * quantity * FEE_RATE).quantize(QTY_STEP)), liquidity


def realised_slippage_bps(side: str, price: Decimal, reference: Decimal) -> Decimal:
    """How far a fill's price is from the reference, in bps; positive = against us."""
    move = price / reference - 1
    return ((move if side == "BUY" else -move) * BPS).quantize(Decimal("0.0001"))
