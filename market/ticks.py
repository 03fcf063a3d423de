"""Upbit's KRW price grid and quantity step: facts about the exchange, used wherever a price or a
quantity is made (the fill model, the simulated order book)."""

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

QTY_STEP = Decimal("0.00000001")  # quantities are kept to 8 decimals

# Upbit KRW tick table in force since 2025-07-31: (lower bound, tick).
TICKS = [
    (Decimal("1000000"), Decimal("1000")),
    (Decimal("500000"), Decimal("500")),
    (Decimal("100000"), Decimal("100")),
    (Decimal("50000"), Decimal("50")),
    (Decimal("10000"), Decimal("10")),
    (Decimal("5000"), Decimal("5")),
    (Decimal("100"), Decimal("1")),
    (Decimal("10"), Decimal("0.1")),
    (Decimal("1"), Decimal("0.01")),
    (Decimal("0.1"), Decimal("0.001")),
    (Decimal("0.01"), Decimal("0.0001")),
    (Decimal("0.001"), Decimal("0.00001")),
    (Decimal("0.0001"), Decimal("0.000001")),
    (Decimal("0.00001"), Decimal("0.0000001")),
]
SMALLEST_TICK = Decimal("0.00000001")


def tick_size(price: Decimal) -> Decimal:
    """Upbit's KRW-market tick for a price."""
    for bound, tick in TICKS:
        if price >= bound:
            return tick
    return SMALLEST_TICK


def round_to_tick(price: Decimal, side: str) -> Decimal:
    """Round to the tick against us: buys up, sells down."""
    tick = tick_size(price)
    rounding = ROUND_CEILING if side == "BUY" else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=rounding) * tick
