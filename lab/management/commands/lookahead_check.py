"""manage.py lookahead_check: does a strategy config read future bars, or need more history than
the live window gives it? Prints the findings; exits non-zero when there is any."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.bounds import int_option
from core.kst import kst_text
from lab.lookahead import check_strategy
from trading.backtest import load_bars, load_csv_bars, load_sim_bars
from trading.config import ConfigError, load_strategy

MAX_DAYS = 365


class Command(BaseCommand):
    help = (
        "Check a strategy config for look-ahead (columns recomputed on data cut at 50 bars) and for "
        "too little history (columns recomputed from later starts against the live window)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", default="KRW-BTC", help="one market (default KRW-BTC)")
        parser.add_argument(
            "--days",
            type=int_option(1, MAX_DAYS, "days"),
            default=7,
            help="days of candles before now, plus the regime's warm-up (default 7)",
        )
        parser.add_argument(
            "--config-version",
            type=int_option(1, 2**31 - 1),
            help="strategy config version (default: the active one)",
        )
        parser.add_argument(
            "--source", default="db", help="db (stored candles), sim, or csv:PATH (all of it)"
        )

    def handle(self, *args, **opts):
        try:
            params = load_strategy(opts["config_version"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        bars = self._bars(opts)
        if len(bars) < 3:
            raise CommandError(
                f"only {len(bars)} candles of {opts['symbol']} ({opts['source']}): need at least 3"
            )
        first, last = (kst_text(datetime.fromtimestamp(int(t), UTC)) for t in (bars.ts[0], bars.ts[-1]))
        self.stdout.write(
            f"strategy v{params.version} on {opts['symbol']}: {len(bars):,} bars, {first} to {last} KST"
        )
        result = check_strategy(bars, params)
        for note in result.notes:
            self.stdout.write(f"  {note}")
        for name, needed in sorted(result.history_needed.items()):
            self.stdout.write(f"  {name:<20} needs {needed:>6,} bars of history")
        for finding in result.findings:
            self.stdout.write(f"PROBLEM {finding}")
        if not result.passed:
            raise CommandError(f"{len(result.findings)} problem(s) found")
        self.stdout.write("passed: no column reads a later bar, and every window covers its history")

    def _bars(self, opts):
        source, symbol = opts["source"], opts["symbol"]
        if source.startswith("csv:"):
            try:
                return load_csv_bars(source[4:])
            except (OSError, KeyError, ValueError) as exc:
                raise CommandError(f"cannot read candles from {source[4:]}: {exc}") from exc
        end = timezone.now().replace(second=0, microsecond=0)
        start = end - timedelta(days=opts["days"])
        if source == "sim":
            return load_sim_bars(symbol, start, end, seed=settings.COINPILOT_SIM_SEED)[0]
        if source == "db":
            return load_bars(symbol, start, end)[0]
        raise CommandError(f"unknown --source {source!r}: use db, sim or csv:PATH")
