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
