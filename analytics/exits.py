"""Closed trades as analytics sees them: realized PnL and holding time of every SELL.

PnL comes from `signal_info.entry_avg_price` (stored by trading/booking.py on every SELL), net of
the SELL fee and the entry fee share (`signal_info.entry_fee`, 0 when absent), which is exactly
what booking computed. A SELL without it (older or foreign rows) is matched FIFO against the BUY
lots of its symbol and mode. Holding time is always FIFO: quantity-weighted time from each lot's
fill to the SELL. What cannot be computed stays None and is named by the reports, never zero.
"""

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.db.models.fields.json import KT

from trading.models import Side, Trade, TradeStatus

from .post_exit import WINDOWS

PCT = Decimal(100)
DUST = Decimal("1e-8")  # quantities below this are rounding, not an uncovered sale


@dataclass(frozen=True)
class Fill:
    """A FILLED trade as the FIFO ledger needs it."""

    id: int
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    at: datetime
    mode: str = "paper"


@dataclass(frozen=True)
class LotMatch:
    """The BUY lots one SELL consumed: their cost, their fee share and the weighted hold."""

    cost: Decimal
    entry_fee: Decimal
    hold_hours: float


@dataclass
class Exit:
    """One FILLED SELL with what could be computed about it."""

    id: int
    symbol: str
    regime: str
    exit_reason: str
    at: datetime
    price: Decimal
    quantity: Decimal
    fee: Decimal
    pnl: Decimal | None = None
    pnl_pct: float | None = None
    hold_hours: float | None = None
    pnl_source: str = ""  # "entry_avg_price", "fifo" or "" (not computable)
    post_changes: dict[str, float] = field(default_factory=dict)  # {"1h": change_pct, ...} tracked

    def post_pct(self, window: str) -> float | None:
        """change_pct of a tracked post-exit window, or None."""
        return self.post_changes.get(window)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(value if isinstance(value, str | int) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def pnl_from_entry(
    *, price: Decimal, quantity: Decimal, fee: Decimal, entry_price: Decimal, entry_fee: Decimal
) -> tuple[Decimal, float]:
    """(KRW PnL net of both fees, PnL % of the entry cost incl. its fee)."""
    cost = entry_price * quantity + entry_fee
    pnl = (price - entry_price) * quantity - fee - entry_fee
    return pnl, float(pnl / cost * PCT) if cost else 0.0


def fifo_matches(fills: Iterable[Fill]) -> dict[int, LotMatch | None]:
    """Match every SELL against earlier BUY lots, first in first out, per (mode, symbol).

    Returns {sell id: LotMatch}, or None for a SELL the lots do not cover (its lots are still
    consumed, so later SELLs are matched against what is really left).
    """
    lots: dict[tuple, deque] = defaultdict(deque)  # (mode, symbol) -> [price, qty left, fee left, at]
    matches: dict[int, LotMatch | None] = {}
    for fill in sorted(fills, key=lambda f: (f.at, f.id)):
        book = lots[(fill.mode, fill.symbol)]
        if fill.side == Side.BUY:
            book.append([fill.price, fill.quantity, fill.fee, fill.at])
            continue
        need, cost, fee, held = fill.quantity, Decimal(0), Decimal(0), 0.0
        while need > DUST and book:
            lot = book[0]
            take = min(need, lot[1])
            fee_share = lot[2] if take >= lot[1] else lot[2] * take / lot[1]
            cost += lot[0] * take
            fee += fee_share
            held += float(take) * (fill.at - lot[3]).total_seconds()
            lot[1] -= take
            lot[2] -= fee_share
            need -= take
            if lot[1] <= DUST:
                book.popleft()
        covered = need <= DUST and fill.quantity > 0
        matches[fill.id] = LotMatch(cost, fee, held / float(fill.quantity) / 3600) if covered else None
    return matches


def _float(value) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except ValueError:
        return None


def build_exit(row: dict, match: LotMatch | None) -> Exit:
    """An Exit from a SELL row (see load_exits: JSON members arrive as columns) and its FIFO match."""
    changes = {w: _float(row[f"post_{w}"]) for w in WINDOWS}
    exit_ = Exit(
        id=row["id"],
        symbol=row["symbol"],
        regime=row["regime"] or "UNKNOWN",
        exit_reason=row["exit_reason"] or "UNKNOWN",
        at=row["executed_at"] or row["created_at"],
        price=row["price"],
        quantity=row["quantity"],
        fee=row["fee"],
        post_changes={w: change for w, change in changes.items() if change is not None},
    )
    entry_price = _decimal(row["entry_avg_price"])
    if entry_price is not None and entry_price > 0:
        exit_.pnl, exit_.pnl_pct = pnl_from_entry(
            price=exit_.price,
            quantity=exit_.quantity,
            fee=exit_.fee,
            entry_price=entry_price,
            entry_fee=_decimal(row["entry_fee"]) or Decimal(0),
        )
        exit_.pnl_source = "entry_avg_price"
    elif match is not None:
        exit_.pnl = exit_.price * exit_.quantity - exit_.fee - match.cost - match.entry_fee
        basis = match.cost + match.entry_fee
        exit_.pnl_pct = float(exit_.pnl / basis * PCT) if basis else 0.0
        exit_.pnl_source = "fifo"
    if match is not None:
        exit_.hold_hours = match.hold_hours
    elif _float(row["held_minutes"]) is not None:
        exit_.hold_hours = _float(row["held_minutes"]) / 60  # booking's own figure
    return exit_


SELL_FIELDS = ["id", "symbol", "regime", "exit_reason", "price", "quantity", "fee"]
SELL_FIELDS += ["executed_at", "created_at"]
# Only the JSON members analytics reads, extracted by the database: decoding 10,000 whole
# signal_info and post_exit_prices documents in Python cost more than the rest of the report.
SELL_JSON = {name: KT(f"signal_info__{name}") for name in ("entry_avg_price", "entry_fee", "held_minutes")}
SELL_JSON |= {f"post_{w}": KT(f"post_exit_prices__{w}__change_pct") for w in WINDOWS}


def _in_period(start: datetime, end: datetime) -> Q:
    # executed_at, else created_at, in [start, end): written as two ranges so indexes still apply
    return Q(executed_at__gte=start, executed_at__lt=end) | Q(
        executed_at__isnull=True, created_at__gte=start, created_at__lt=end
    )


def load_exits(start: datetime, end: datetime) -> list[Exit]:
    """Every FILLED SELL with exit time in [start, end), oldest first (two queries)."""
    sells = list(
        Trade.objects.filter(side=Side.SELL, status=TradeStatus.FILLED)
        .filter(_in_period(start, end))
        .order_by()  # sorted below; no ORDER BY in SQL
        .values(*SELL_FIELDS, **SELL_JSON)
    )
    if not sells:
        return []
    history = (
        Trade.objects.filter(status=TradeStatus.FILLED, symbol__in={row["symbol"] for row in sells})
        .filter(Q(executed_at__lt=end) | Q(executed_at__isnull=True, created_at__lt=end))
        .order_by()  # fifo_matches sorts by time
        .values_list("id", "symbol", "side", "price", "quantity", "fee", "executed_at", "created_at", "mode")
    )
    fills = [Fill(i, s, side, p, q, f, ex or cr, m) for i, s, side, p, q, f, ex, cr, m in history]
    matches = fifo_matches(fills)
    exits = [build_exit(row, matches.get(row["id"])) for row in sells]
    return sorted(exits, key=lambda e: (e.at, e.id))


DETAIL_JSON = {
    name: KT(f"signal_info__{name}") for name in ("pnl", "pnl_pct", "held_minutes", "partial_levels_done")
}
DETAIL_JSON |= {f"post_{w}": KT(f"post_exit_prices__{w}__change_pct") for w in WINDOWS}


def sell_details(start: datetime, end: datetime):
    """Every FILLED SELL of [start, end), newest first, with the numbers booking stored for it and
    its tracked post-exit changes (a queryset of dicts: the page paginates it in the database)."""
    return (
        Trade.objects.filter(side=Side.SELL, status=TradeStatus.FILLED)
        .filter(_in_period(start, end))
        .order_by("-executed_at", "-id")
        .values("id", "symbol", "regime", "exit_reason", "executed_at", "price", **DETAIL_JSON)
    )
