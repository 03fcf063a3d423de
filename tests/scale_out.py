"""A position scaled out through the real booking (trading.booking), for the tests of where scale-outs,
risk-based sizing and the re-entry cooldown show (pages, charts, reports, Ask tools).

One BUY with a sizing sentence, two PARTIAL_TAKE_PROFIT sales (levels 1 and 2: half, then a
quarter of the entry quantity) and a final TAKE_PROFIT of the rest, an hour apart each.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from market.ticks import QTY_STEP
from trading import booking, cycle, risk
from trading.config import default_risk
from trading.fills import buy_fill, sell_fill
from trading.models import Position, RiskAudit, Trade

SIZING = "size 3.1 % (310,000 KRW) = risk 1 % / stop 2.4 %, capped at max position 5 %"
LEVELS = ((1, Decimal("1.02"), Decimal("0.5")), (2, Decimal("1.04"), Decimal("0.25")))
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class ScaledOut:
    buy: Trade
    partials: list[Trade]
    final: Trade


def book_scale_out(
    *, at: datetime, price: Decimal, symbol: str = "KRW-BTC", regime: str = "BULL", prefix: str = "so"
) -> ScaledOut:
    """Buy at `at`, sell levels 1 and 2 one and two hours later, the rest after three hours."""
    entry = booking.book_buy(
        symbol=symbol,
        fill=buy_fill(krw=Decimal(310_000), reference=price),
        client_order_id=f"{prefix}-buy",
        regime=regime,
        at=at,
        strategy_name="v3.1",
        signal_info={"entry": "rsi7 recovered", "sizing": SIZING, "close": float(price)},
    )
    initial = Position.objects.get(symbol=symbol).initial_quantity
    partials = []
    for level, rise, share in LEVELS:
        quantity = (initial * share).quantize(QTY_STEP, rounding=ROUND_DOWN)
        partials.append(
            booking.book_sell(
                symbol=symbol,
                fill=sell_fill(quantity=quantity, reference=price * rise),
                client_order_id=f"{prefix}-p{level}",
                reason="PARTIAL_TAKE_PROFIT",
                at=at + level * HOUR,
                limits=default_risk(),
                regime=regime,
                strategy_name="v3.1",
                signal_info={
                    "exit": f"PARTIAL_TAKE_PROFIT level {level}: sell {share * 100:g}% of the position",
                    "partial_levels_done": level,
                },
            )
        )
    rest = Position.objects.get(symbol=symbol).quantity
    final = booking.book_sell(
        symbol=symbol,
        fill=sell_fill(quantity=rest, reference=price * Decimal("1.05")),
        client_order_id=f"{prefix}-tp",
        reason="TAKE_PROFIT",
        at=at + 3 * HOUR,
        limits=default_risk(),
        regime=regime,
        strategy_name="v3.1",
    )
    return ScaledOut(entry, partials, final)


def reentry_refusal(*, at: datetime, symbol: str = "KRW-BTC") -> RiskAudit:
    """A REENTRY_COOLDOWN refusal through the real path: the risk manager refuses an entry 30
    minutes into the symbol's re-entry cooldown and the bot cycle records it (RiskAudit + alert)."""
    cash = Decimal(10_000_000)
    ctx = risk.EntryContext(
        symbol=symbol,
        now=at,
        cash=cash,
        exposure=Decimal(0),
        open_positions=0,
        day=risk.DayState(starting_equity=cash),
        limits=default_risk(),
        reentry_until=at + timedelta(minutes=30),
    )
    _, block = risk.decide_entry(ctx)
    assert block is not None and block.violation_type == "REENTRY_COOLDOWN", block
    cycle.record_block(block, symbol, f"{symbol}-{at:%Y%m%dT%H%M}-BUY", at)
    return RiskAudit.objects.get(related_order_id=f"{symbol}-{at:%Y%m%dT%H%M}-BUY")
