"""Paper trading: fills simulated with the backtester's fill model, booked like real ones."""

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings

from trading import booking
from trading.fills import BelowMinimumOrder, buy_fill, sell_fill
from trading.liquidity import Level, walk_asks
from trading.models import Trade, TradeMode

from .base import BuyOrder, Executor, OrderRefused, SellOrder

AsksProvider = Callable[[str], list[Level]]


class PaperExecutor(Executor):
    """Fills at the reference price plus slippage: from the order book when one is available
    (walking the asks for the order's KRW amount), else a fixed number of basis points."""

    mode = TradeMode.PAPER

    def __init__(
        self, *, slippage_bps: Decimal, asks: AsksProvider | None = None, mode: str = TradeMode.PAPER
    ):
        self.slippage_bps = slippage_bps
        self.asks = asks
        self.mode = mode

    @classmethod
    def from_settings(cls) -> "PaperExecutor":
        return cls(slippage_bps=Decimal(settings.COINPILOT_PAPER_SLIPPAGE_BPS))

    def buy(self, order: BuyOrder) -> Trade:
        slippage, info = self._buy_slippage(order)
        try:
            fill = buy_fill(krw=order.krw, reference=order.reference_price, slippage_bps=slippage)
        except BelowMinimumOrder as exc:
            raise OrderRefused(str(exc)) from exc
        return booking.book_buy(
            symbol=order.symbol,
            fill=fill,
            client_order_id=order.client_order_id,
            regime=order.regime,
            at=order.at,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info | info,
            mode=self.mode,
        )

    def sell(self, order: SellOrder) -> Trade:
        fill = sell_fill(
            quantity=order.quantity, reference=order.reference_price, slippage_bps=self.slippage_bps
        )
        return booking.book_sell(
            symbol=order.symbol,
            fill=fill,
            client_order_id=order.client_order_id,
            reason=order.reason,
            at=order.at,
            limits=order.limits,
            regime=order.regime,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info,
            mode=self.mode,
        )

    def _buy_slippage(self, order: BuyOrder) -> tuple[Decimal, dict]:
        if self.asks is None:
            return self.slippage_bps, {}
        liquidity = walk_asks(self.asks(order.symbol), order.krw)
        if not liquidity.fillable:
            raise OrderRefused(f"{order.symbol}: {liquidity.warning}")
        info = {
            "expected_slippage_pct": str(liquidity.slippage_pct.quantize(Decimal("0.0001"))),
            "book_levels": liquidity.levels_used,
        }
        if liquidity.warning:
            info["liquidity_warning"] = liquidity.warning
        return liquidity.slippage_bps, info
