"""One example payload per event type: `manage.py notify_test` sends these, and they document the
payload keys each renderer knows (any other key is shown as an extra field). The texts are lazy:
enqueue_alert writes them in COINPILOT_ALERT_LANGUAGE."""

from django.utils.translation import gettext_lazy as _

SAMPLES: dict[str, dict] = {
    "trade": {
        "symbol": "KRW-BTC",
        "side": "SELL",
        "price": "95120000",
        "quantity": "0.00105263",
        "amount": "100126.75",
        "fee": "50.06",
        "strategy": "regime_rsi_v3.1",
        "regime": "SIDEWAYS",
        "exit_reason": "TAKE_PROFIT",
        "pnl": "2916.42",
        "pnl_pct": "3.00",
    },
    "ai-decision": {
        "symbol": "KRW-ETH",
        "decision": "APPROVED",
        "confidence": 78,
        "regime": "BULL",
        "rsi": "41.2",
        "model": "claude-haiku-4-5",
        "latency_ms": 2310,
        "reasoning": _("RSI(7) recovered from 28 with rising volume; price holds above MA20."),
    },
    "ai-reject": {
        "symbol": "KRW-XRP",
        "regime": "BEAR",
        "rsi": "29.8",
        "reason": _("Falling knife: lower lows on the hourly chart and volume still rising on red bars."),
    },
    "risk": {
        "kind": "daily_loss_limit",
        "symbol": "",
        "reason": _("Realized loss today -5.2 % (limit 5 %): entries halted until 00:00 KST."),
        "total_pnl": "-520000",
    },
    "daily-report": {
        "date": "2026-11-20",
        "summary": _("Two wins, one stop loss.\nTrailing stops locked in most of the gains.\nNo halt today."),
        "total_pnl": "41250",
        "win_rate": "66.67",
        "trade_count": 3,
        "max_drawdown_pct": "0.82",
        "avg_post_1h_pct": "0.35",
        "by_exit_reason": {
            "TRAILING_STOP": {"count": 2, "avg_pnl_pct": "1.9"},
            "STOP_LOSS": {"count": 1, "avg_pnl_pct": "-2.5"},
        },
        "notes": [],
    },
    "weekly-exit-report": {
        "days": 7,
        "suggestions": [_("BULL trailing stop: widen 2.0 % -> 2.5 % (early exits 60 %)")],
        "groups": [
            {"regime": "BULL", "exit_reason": "TRAILING_STOP", "count": 10, "avg_pnl_pct": "1.8"},
            {"regime": "SIDEWAYS", "exit_reason": "TIME_LIMIT", "count": 4, "avg_pnl_pct": "-0.6"},
        ],
    },
    "system": {
        "title": _("Job collect_candles failed"),
        "detail": _("HTTPStatusError: 418 from Upbit: IP banned for 60 s"),
        "slot": "2026-11-20T23:41:00+00:00",
    },
}
