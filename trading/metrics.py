"""Business gauges read from the database at scrape time (never set by workers, so never stale),
and the slippage histogram the executors observe on every fill."""

from django.db.models import Sum
from django.utils import timezone
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily

from market.candles import ONE_MINUTE, last_stored_timestamps
from market.volatility import read_state

from .booking import exposure_at_cost
from .config import load_strategy
from .models import Account, DailyRiskState, Position, TradingControl
from .risk import kst_day

SLIPPAGE = Histogram(
    "coinpilot_slippage_bps",
    "Realised slippage of a fill against the price at decision, bps (positive = against us)",
    ["side", "mode"],
    buckets=(-20, -5, 0, 1, 2, 5, 10, 20, 30, 50, 100, 200),
)


def observe_slippage(side: str, mode: str, bps) -> None:
    if bps is not None:
        SLIPPAGE.labels(side, mode).observe(float(bps))


class TradingCollector:
    """Collected by the web `/metrics` view (settings.COINPILOT_METRICS_COLLECTORS)."""

    def collect(self):
        yield GaugeMetricFamily(
            "coinpilot_active_positions", "Open positions", value=Position.objects.count()
        )
        realized = DailyRiskState.objects.aggregate(total=Sum("total_pnl"))["total"] or 0
        yield GaugeMetricFamily("coinpilot_total_pnl", "Realized PnL net of fees, KRW", value=float(realized))
        balance = GaugeMetricFamily("coinpilot_account_balance_krw", "Cash balance, KRW", labels=["account"])
        for name, value in Account.objects.values_list("name", "balance"):
            balance.add_metric([name], float(value))
        yield balance
        control = TradingControl.objects.filter(pk=1).first()
        yield GaugeMetricFamily(
            "coinpilot_kill_switch",
            "1 while the kill switch is on",
            value=1.0 if control and control.kill_switch else 0.0,
        )
        yield GaugeMetricFamily(
            "coinpilot_reconcile_hold",
            "1 while live books differ from Upbit's and entries are refused (reconcile --resume clears)",
            value=1.0 if control and control.reconcile_mismatch else 0.0,
        )
        today = DailyRiskState.objects.filter(date=kst_day(timezone.now())).first()
        halted = GaugeMetricFamily(
            "coinpilot_trading_halted", "1 while a loss limit stops entries (day or week)", labels=["scope"]
        )
        halted.add_metric(["day"], 1.0 if today and today.is_trading_halted else 0.0)
        halted.add_metric(["week"], 1.0 if today and today.is_week_halted else 0.0)
        yield halted
        yield GaugeMetricFamily(
            "coinpilot_positions_cost_krw", "Open positions at cost, KRW", value=float(exposure_at_cost())
        )
        ages = GaugeMetricFamily(
            "coinpilot_candle_age_seconds", "Seconds since the newest stored 1m bar closed", labels=["symbol"]
        )
        for symbol, age in candle_ages().items():
            ages.add_metric([symbol], age)
        yield ages
        state = read_state() or {}
        if "current_volatility" in state:
            yield GaugeMetricFamily(
                "coinpilot_volatility_index",
                "Forecast 1-minute volatility of the bellwether",
                value=float(state["current_volatility"]),
            )


def candle_ages() -> dict[str, float]:
    """Seconds since each traded or held symbol's newest stored bar closed, now (one query for the
    bars; a symbol without any bar is left out)."""
    symbols = sorted(set(load_strategy().symbols) | set(Position.objects.values_list("symbol", flat=True)))
    now = timezone.now()
    newest = last_stored_timestamps(symbols)
    return {s: (now - t - ONE_MINUTE).total_seconds() for s, t in newest.items() if t is not None}
