"""Prometheus metrics of the AI second opinion (all labelled: they are written inside RQ jobs)."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "coinpilot_ai_requests_total",
    "AI gate outcomes (approved, rejected, timeout, error, skipped)",
    ["outcome"],
)
PREFILTER_SKIPS = Counter(
    "coinpilot_ai_prefilter_skips_total", "Agent runs skipped by the pre-filter", ["reason"]
)
CONTEXT_CANDLES = Histogram(
    "coinpilot_ai_context_candles",
    "Hourly candles in the agent's context",
    ["regime"],
    buckets=(0, 6, 12, 18, 23, 24),
)


class AgentsCollector:
    """Read at scrape time by the web `/metrics` view (settings.COINPILOT_METRICS_COLLECTORS): the
    global block and today's cost live in Redis and the database, not in any process's memory."""

    def collect(self):
        from django.utils import timezone
        from prometheus_client.core import GaugeMetricFamily

        from core.redis_conn import get_redis

        from . import costs, guardrails

        now = timezone.now()
        usage = costs.day_usage(now)
        yield GaugeMetricFamily(
            "coinpilot_ai_cost_today_usd",
            "Estimated AI cost of the UTC day, USD",
            value=float(usage["cost_usd"]),
        )
        yield GaugeMetricFamily(
            "coinpilot_ai_budget_usd",
            "Daily AI budget (AI_DAILY_BUDGET_USD)",
            value=float(usage["budget_usd"]),
        )
        try:
            blocked = bool(get_redis().exists(guardrails.BLOCK_KEY))
        except Exception:
            return  # Redis down: coinpilot_redis_up says so; no guess about the block
        yield GaugeMetricFamily(
            "coinpilot_ai_global_block",
            "1 while the AI gate is blocked for every symbol",
            value=float(blocked),
        )
