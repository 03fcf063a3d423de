from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.bounds import float_option
from market.candles import load_frames
from market.models import RegimeHistory
from market.regime import rounded_decimal, update_regimes
from trading.config import load_strategy
from trading.executors.paper import PaperExecutor
from trading.models import Trade, TradeMode
from trading.replay import HourlyRegime, ReplayMarket, replay
from trading.risk import KST, kst_day_start
from trading.strategy import LIVE_WINDOW_BARS

MAX_DAYS = 30  # a replay walks every minute through the real cycle: a month is already long
WARMUP = timedelta(hours=240)  # the regime's hourly lookback (and far more than the live window)


class Command(BaseCommand):
    help = (
        "Replay the days before today (KST) of stored candles through the real bot cycle on a "
        "simulated clock (paper account, trades labelled 'replay'), then refresh the regimes. "
        "The replay ends at 00:00 KST today, so today's risk budget is left to the live bot."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=float_option(0, MAX_DAYS, "days", above=True),
            default=2.0,
            help=f"how many days to replay, at most {MAX_DAYS} (default 2)",
        )
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any trade exists")

    def handle(self, *args, days: float, if_empty: bool, **options) -> None:
        if settings.COINPILOT_LIVE_TRADING:
            raise CommandError("replay books into the paper account; it is refused while live trading is on")
        if if_empty and Trade.objects.exists():
            self.stdout.write("trades exist already: no replay")
            return
        symbols = list(load_strategy().symbols)
        now = timezone.now().replace(second=0, microsecond=0)
        # Up to today 00:00 KST: a replay that booked today's entries would leave the demo at its
        # daily trade limit, refusing every buy until midnight.
        end = kst_day_start(now)
        start = end - timedelta(days=days)
        frames = load_frames(symbols, start=start - max(WARMUP, timedelta(minutes=LIVE_WINDOW_BARS)), end=end)
        if not any(len(f) for f in frames.values()):
            raise CommandError("no candles stored: run `manage.py backfill --source sim --days 14` first")
        executor = PaperExecutor(
            slippage_bps=Decimal(settings.COINPILOT_PAPER_SLIPPAGE_BPS), mode=TradeMode.REPLAY
        )

        tty = self.stdout.isatty()

        def progress(done: int, total: int) -> None:
            line = f"replaying {len(symbols)} symbols: {done}/{total} minutes"
            if tty:  # one line redrawn in a terminal; plain lines in a log or a pipe
                self.stdout.write("\r" + line, ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        market = ReplayMarket(frames)
        acted = replay(frames, start=start, end=end, executor=executor, progress=progress, market=market)
        if tty:
            self.stdout.write("")
        record_regimes(market.hourly_regimes(start, end))
        counts = {
            action: sum(r.action == action for r in acted) for action in ("BUY", "SELL", "BLOCKED", "ERROR")
        }
        summary = (
            f"replayed {days:g} days up to {end.astimezone(KST):%Y-%m-%d %H:%M} KST: "
            f"{counts['BUY']} buys, {counts['SELL']} sells, "
            f"{counts['BLOCKED']} entries refused by risk, {counts['ERROR']} errors"
        )
        self.stdout.write(self.style.SUCCESS(summary))
        readings = update_regimes(symbols, now)
        self.stdout.write("regimes now: " + ", ".join(f"{r.symbol} {r.regime}" for r in readings))


def record_regimes(readings: list[HourlyRegime]) -> None:
    """Store the hourly regimes the replayed cycles saw, at their own hours (the Market page shades
    the replayed days from them); `created_at` is set on insert, so it is written back after."""
    rows = RegimeHistory.objects.bulk_create(
        [
            RegimeHistory(
                coin_symbol=r.symbol, regime=r.regime, ma50=rounded_decimal(r.ma50, 8),
                ma200=rounded_decimal(r.ma200, 8), diff_pct=rounded_decimal(r.diff_pct, 4),
            )
            for r in readings
        ]
    )  # fmt: skip
    for row, reading in zip(rows, readings, strict=True):
        row.created_at = reading.hour
    RegimeHistory.objects.bulk_update(rows, ["created_at"], batch_size=500)
