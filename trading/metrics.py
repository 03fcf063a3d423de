"""Business gauges read from the database at scrape time (never set by workers, so never stale)."""

from django.db.models import Sum
from prometheus_client.core import GaugeMetricFamily

from market.volatility import read_state

from .models import Account, DailyRiskState, Position, TradingControl


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
        state = read_state() or {}
        if "current_volatility" in state:
            yield GaugeMetricFamily(
                "coinpilot_volatility_index",
                "Forecast 1-minute volatility of the bellwether",
                value=float(state["current_volatility"]),
            )
