"""Issue 8: the weekly exit analysis over 10,000 SELLs (target <= 1 s).

    .venv/bin/python bench/bench_exit_report.py [--runs 7] [--keep]

Scratch PostgreSQL database cp_h8_bench (created, and dropped afterwards unless --keep). Stores
10,000 BUY/SELL round trips over the last 7 days (100 symbols, all exit reasons and regimes,
four tracked post-exit windows each; one SELL in ten without entry_avg_price, so FIFO prices
it), not timed. Then times `build_weekly_report` (two queries, FIFO over 20,000 fills, the
regime x exit_reason table and the suggestions) and prints the median and the best run.
"""

import sys
import time
from datetime import timedelta
from decimal import Decimal

from bench_post_exit import NOW, SYMBOLS, drop_database, setup_database, vacuum

ROUND_TRIPS = 10_000
REASONS = ("TRAILING_STOP", "TAKE_PROFIT", "STOP_LOSS", "TIME_LIMIT", "RSI_OVERBOUGHT")


def load_trades() -> None:
    from trading.models import Trade

    span = timedelta(days=7) / ROUND_TRIPS
    trades = []
    for n in range(ROUND_TRIPS):
        symbol, sold_at = SYMBOLS[n % len(SYMBOLS)], NOW - n * span - timedelta(minutes=1)
        entry, price = Decimal(100_000), Decimal(100_000 + (n * 7919) % 6000 - 3000)
        info = {} if n % 10 == 0 else {"entry_avg_price": "100000", "entry_fee": "0.5"}
        post = {w: {"price": "1", "change_pct": ((n * 31 + i * 17) % 80 - 40) / 10, "tracked_at": "x"}
                for i, w in enumerate(("1h", "4h", "12h", "24h"))}  # fmt: skip
        common = {"symbol": symbol, "quantity": Decimal("0.01"), "fee": Decimal("0.5"), "status": "FILLED"}
        trades.append(Trade(side="BUY", price=entry, executed_at=sold_at - timedelta(hours=n % 30 + 1),
                            client_order_id=f"bench-buy-{n}", **common))  # fmt: skip
        trades.append(
            Trade(
                side="SELL",
                price=price,
                executed_at=sold_at,
                client_order_id=f"bench-sell-{n}",
                regime=("BULL", "SIDEWAYS", "BEAR")[n % 3],
                exit_reason=REASONS[n % len(REASONS)],
                signal_info=info,
                post_exit_prices=post,
                **common,
            )
        )
    Trade.objects.bulk_create(trades, batch_size=2000)


def main() -> None:
    keep = "--keep" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 7
    setup_database()
    try:
        from analytics.weekly_report import build_weekly_report

        load_trades()
        vacuum()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            report = build_weekly_report(NOW, 7)
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"{report.sells:,} SELLs, {len(report.table)} groups, suggestions: {report.suggestions.status}")
        median, best = times[len(times) // 2], times[0]
        print(f"build_weekly_report: median {median:.3f} s, best {best:.3f} s ({runs} runs)")
    finally:
        if not keep:
            drop_database()


if __name__ == "__main__":
    main()
