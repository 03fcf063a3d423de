"""Order-book liquidity: what a market buy of N KRW would really pay (SPEC 14, from dg_bot).

Walk the ask levels best-first until the KRW amount is spent. The average price against the best
ask is the expected slippage; warn above 0.3 % or 5 levels, refuse when the book cannot fill it.
"""

from dataclasses import dataclass
from decimal import Decimal

WARN_SLIPPAGE_PCT = Decimal("0.3")
WARN_LEVELS = 5


@dataclass(frozen=True)
class Level:
    price: Decimal
    size: Decimal  # base-asset quantity offered at this price


@dataclass(frozen=True)
class Liquidity:
    fillable: bool
    average_price: Decimal | None
    slippage_pct: Decimal | None  # average price vs best ask
    levels_used: int

    @property
    def slippage_bps(self) -> Decimal:
        return (self.slippage_pct or Decimal(0)) * 100

    @property
    def warning(self) -> str | None:
        if not self.fillable:
            return "the order book cannot fill this order"
        if self.slippage_pct > WARN_SLIPPAGE_PCT or self.levels_used > WARN_LEVELS:
            return f"thin book: {self.slippage_pct:.3f}% expected slippage over {self.levels_used} levels"
        return None


def walk_asks(asks: list[Level], krw: Decimal) -> Liquidity:
    """Expected average price of spending `krw` on the asks (best first)."""
    if not asks or krw <= 0:
        return Liquidity(False, None, None, 0)
    remaining, bought = krw, Decimal(0)
    for used, level in enumerate(asks, start=1):
        value = level.price * level.size
        if value >= remaining:
            bought += remaining / level.price
            average = krw / bought
            return Liquidity(True, average, (average / asks[0].price - 1) * 100, used)
        remaining -= value
        bought += level.size
    return Liquidity(False, None, None, len(asks))
