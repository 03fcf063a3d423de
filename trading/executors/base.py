"""What the bot cycle asks of an executor: buy for N KRW, sell a position; both booked atomically."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.notify import notify
from market.orderbook import OrderBook
from trading.config import RiskLimits, load_risk
from trading.liquidity import REFUSED, WARNED, Liquidity, problem
from trading.models import RiskAudit, Trade


class ExecutionError(Exception):
    """The order could not be executed now (network, exchange error); nothing was booked."""


class OrderRefused(ExecutionError):
    """The order was refused before it reached the market (liquidity, minimum order).

    `rule` names the risk rule when the refusal is one (already audited as a RiskAudit row).
    """

    def __init__(self, message: str, rule: str = ""):
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class BuyOrder:
    symbol: str
    krw: Decimal
    reference_price: Decimal  # the latest close the decision was made on
    client_order_id: str
    regime: str
    at: datetime
    strategy_name: str = ""
    signal_info: dict = field(default_factory=dict)
    limits: RiskLimits | None = None  # None: the active risk config (for the book thresholds)


@dataclass(frozen=True)
class SellOrder:
    symbol: str
    quantity: Decimal
    reference_price: Decimal
    client_order_id: str
    reason: str
    at: datetime
    limits: RiskLimits
    regime: str = ""
    strategy_name: str = ""
    signal_info: dict = field(default_factory=dict)


class Executor(ABC):
    mode: str

    @abstractmethod
    def buy(self, order: BuyOrder) -> Trade:
        """Execute and book a market buy; raise ExecutionError if nothing was bought."""

    @abstractmethod
    def sell(self, order: SellOrder) -> Trade:
        """Execute and book a market sell of the whole position."""


def check_liquidity(order: BuyOrder, krw: Decimal, book: OrderBook, liquidity: Liquidity) -> dict:
    """Refuse a buy the book cannot fill; record a warning above the operator's thresholds.

    Both are a RiskAudit row and a `risk` alert. Returns what the trade keeps about the book.
    """
    limits = order.limits or load_risk()
    why = problem(
        liquidity,
        warn_slippage_pct=limits.liquidity_warn_slippage_pct,
        warn_levels=limits.liquidity_warn_levels,
    )
    info = {"book_best_ask": str(book.best_ask), "book_levels": liquidity.levels_used}
    if why is None:
        return info
    if not liquidity.fillable:
        offered = sum((level.price * level.size for level in book.asks), Decimal(0))
        why = f"{why} ({offered:,.0f} KRW offered over {len(book.asks)} levels)"
    description = f"buy of {krw:,.0f} KRW: {why}"
    record_liquidity(REFUSED if not liquidity.fillable else WARNED, order, description)
    if not liquidity.fillable:
        raise OrderRefused(f"{order.symbol}: {description}", rule=REFUSED)
    return info | {"liquidity_warning": why}


def record_liquidity(kind: str, order: BuyOrder, description: str) -> None:
    """A RiskAudit row and the usual `risk` alert, as the cycle records a risk refusal."""
    RiskAudit.objects.create(
        violation_type=kind,
        description=description,
        symbol=order.symbol,
        related_order_id=order.client_order_id,
        created_at=order.at,  # the decision time
    )
    notify("risk", {"kind": kind, "symbol": order.symbol, "title": kind, "description": description})
