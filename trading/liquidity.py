"""Order-book liquidity: what a market order would really pay, checked before money moves.

A buy of N KRW walks the ask levels best-first until the KRW is spent; a sell of Q walks the
bids until Q is sold. The average price against the best level is the expected slippage. A buy
is refused when the book cannot fill it and warned about above the operator's thresholds
(risk config: 0.3 % expected slippage or 5 levels by default). The executors record refusals
and warnings (trading.executors.base.record_liquidity); this module stays plain arithmetic.
"""

from dataclasses import dataclass
from decimal import Decimal

from market.orderbook import Level

WARN_SLIPPAGE_PCT = Decimal("0.3")
WARN_LEVELS = 5
REFUSED = "LIQUIDITY_REFUSED"
WARNED = "LIQUIDITY_WARNING"

__all__ = ["Level", "Liquidity", "walk_asks", "walk_bids", "problem"]


@dataclass(frozen=True)
class Liquidity:
    fillable: bool
    average_price: Decimal | None
    slippage_pct: Decimal | None  # average price vs the best level, positive = against us
    levels_used: int
    best_price: Decimal | None = None

    @property
    def slippage_bps(self) -> Decimal:
        return (self.slippage_pct or Decimal(0)) * 100

    @property
    def warning(self) -> str | None:
        """The problem under the default thresholds."""
        return problem(self)


def problem(
    liquidity: Liquidity, *, warn_slippage_pct: Decimal = WARN_SLIPPAGE_PCT, warn_levels: int = WARN_LEVELS
) -> str | None:
    """Why this fill deserves a refusal (unfillable) or a warning; None when it is fine."""
    if not liquidity.fillable:
        return "the order book cannot fill this order"
    if liquidity.slippage_pct > warn_slippage_pct or liquidity.levels_used > warn_levels:
        return (
            f"thin book: {liquidity.slippage_pct:.3f}% expected slippage over {liquidity.levels_used} "
            f"levels (warn above {warn_slippage_pct.normalize():f}% or {warn_levels} levels)"
        )
    return None


def walk_asks(asks: list[Level] | tuple[Level, ...], krw: Decimal) -> Liquidity:
    """Expected average price of spending `krw` on the asks (best first)."""
    if not asks or krw <= 0:
        return Liquidity(False, None, None, 0)
    best = asks[0].price
    remaining, bought = krw, Decimal(0)
    for used, level in enumerate(asks, start=1):
        value = level.price * level.size
        if value >= remaining:
            bought += remaining / level.price
            average = level.price if used == 1 else krw / bought  # exact when one level fills it
            return Liquidity(True, average, (average / best - 1) * 100, used, best)
        remaining -= value
        bought += level.size
    return Liquidity(False, None, None, len(asks), best)


def walk_bids(bids: list[Level] | tuple[Level, ...], quantity: Decimal) -> Liquidity:
    """Expected average price of selling `quantity` into the bids (best first)."""
    if not bids or quantity <= 0:
        return Liquidity(False, None, None, 0)
    best = bids[0].price
    remaining, received = quantity, Decimal(0)
    for used, level in enumerate(bids, start=1):
        if level.size >= remaining:
            received += remaining * level.price
            average = level.price if used == 1 else received / quantity
            return Liquidity(True, average, (1 - average / best) * 100, used, best)
        remaining -= level.size
        received += level.size * level.price
    return Liquidity(False, None, None, len(bids), best)
