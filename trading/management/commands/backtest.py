"""manage.py backtest: replay the live strategy over stored, simulated or CSV candles."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trading.backtest import BacktestOptions, load_bars, load_csv_bars, load_sim_bars, run_backtest
from trading.backtest_report import format_text, write_html
from trading.config import ConfigError, load_risk, load_strategy


def parse_when(value: str | None) -> datetime | None:
    """ISO date or datetime; without an offset it is read in KST (the time shown everywhere)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date: {value!r} (use 2026-01-31 or 2026-01-31T09:00)") from exc
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "Backtest strategy v3.1 on one symbol: the live rules, the paper fill model, the risk limits."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True, help="e.g. KRW-BTC")
        parser.add_argument("--from", dest="start", help="first decision (KST unless an offset is given)")
        parser.add_argument("--to", dest="end", help="end, exclusive (default: now, or the CSV's end)")
        parser.add_argument("--source", default="db", help="db (stored candles), sim, or csv:PATH")
        parser.add_argument("--seed", type=int, default=settings.COINPILOT_SIM_SEED, help="for --source sim")
        parser.add_argument("--config", type=int, help="strategy config version (default: the active one)")
        parser.add_argument("--risk-config", type=int, help="risk config version (default: the active one)")
        parser.add_argument("--slippage-bps", default=settings.COINPILOT_BACKTEST_SLIPPAGE_BPS)
        parser.add_argument("--initial-krw", default="10000000")
        parser.add_argument("--regime", choices=["BULL", "SIDEWAYS", "BEAR"], help="force one regime")
        parser.add_argument("--html", help="write a self-contained plotly report to this file")

    def handle(self, *args, **opts):
        start, end = parse_when(opts["start"]), parse_when(opts["end"])
        try:
            params, limits = load_strategy(opts["config"]), load_risk(opts["risk_config"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        bars, first = self._bars(opts, start, end)
        if len(bars) < 2:
            raise CommandError(f"no candles for {opts['symbol']} in that range ({opts['source']})")
        options = BacktestOptions(
            initial_krw=Decimal(opts["initial_krw"]),
            slippage_bps=Decimal(str(opts["slippage_bps"])),
            start=first,
            regime=opts["regime"],
        )
        result = run_backtest(opts["symbol"], bars, params, limits, options)
        self.stdout.write(format_text(result))
        if opts["html"]:
            write_html(result, opts["html"])
            self.stdout.write(f"\nHTML report written to {opts['html']}")

    def _bars(self, opts, start, end):
        source, symbol = opts["source"], opts["symbol"]
        if source.startswith("csv:"):
            bars = load_csv_bars(source[4:])
            first = int(start.timestamp()) if start else None
            if end is not None:
                bars = bars.tail(int((bars.ts < end.timestamp()).sum()))
            return bars, first
        end = end or timezone.now()
        start = start or end - timedelta(days=30)
        if source == "sim":
            return load_sim_bars(symbol, start, end, seed=opts["seed"])
        if source == "db":
            return load_bars(symbol, start, end)
        raise CommandError(f"unknown --source {source!r}: use db, sim or csv:PATH")
