"""What the bot cycle asks of an executor: buy for N KRW, sell a position; both booked atomically."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trading.config import RiskLimits
from trading.models import Trade


class ExecutionError(Exception):
    """The order could not be executed now (network, exchange error); nothing was booked."""


class OrderRefused(ExecutionError):
    """The order was refused before it reached the market (liquidity, minimum order)."""


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
