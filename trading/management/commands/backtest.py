"""manage.py backtest: replay the live strategy over stored, simulated or CSV candles."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.bounds import decimal_option, file_option, int_option, moment_option
from trading.backtest import BacktestOptions, load_bars, load_csv_bars, load_sim_bars, run_backtest
from trading.backtest_report import format_text, write_html
from trading.config import ConfigError, load_risk, load_strategy
from trading.risk import KST

KST_MOMENT = moment_option(KST)  # dates without an offset are read in KST (the time shown everywhere)
MAX_INITIAL_KRW = 10**11
MAX_SLIPPAGE_BPS = 1000  # 10 %


class Command(BaseCommand):
    help = "Backtest strategy v3.1 on one symbol: the live rules, the paper fill model, the risk limits."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True, help="e.g. KRW-BTC")
        parser.add_argument(
            "--from", dest="start", type=KST_MOMENT, help="first decision (KST unless an offset is given)"
        )
        parser.add_argument(
            "--to", dest="end", type=KST_MOMENT, help="end, exclusive (default: now, or the CSV's end)"
        )
        parser.add_argument("--source", default="db", help="db (stored candles), sim, or csv:PATH")
        parser.add_argument(
            "--seed",
            type=int_option(0, 2**32 - 1),
            default=settings.COINPILOT_SIM_SEED,
            help="for --source sim",
        )
        version = int_option(1, 2**31 - 1)
        parser.add_argument(
            "--config", type=version, help="strategy config version (default: the active one)"
        )
        parser.add_argument(
            "--risk-config", type=version, help="risk config version (default: the active one)"
        )
        parser.add_argument(
            "--slippage-bps",
            type=decimal_option(0, MAX_SLIPPAGE_BPS, "bps"),
            default=Decimal(settings.COINPILOT_BACKTEST_SLIPPAGE_BPS),
            help=f"0 to {MAX_SLIPPAGE_BPS} (default COINPILOT_BACKTEST_SLIPPAGE_BPS)",
        )
        parser.add_argument(
            "--initial-krw",
            type=decimal_option(5000, MAX_INITIAL_KRW, "KRW"),
            default=Decimal("10000000"),
            help="starting cash, 5,000 (Upbit's minimum order) to 100,000,000,000 KRW",
        )
        parser.add_argument("--regime", choices=["BULL", "SIDEWAYS", "BEAR"], help="force one regime")
        parser.add_argument(
            "--html", type=file_option(), help="write a self-contained plotly report to this file"
        )

    def handle(self, *args, **opts):
        start, end = opts["start"], opts["end"]
        if start and end and end <= start:
            raise CommandError("--to must be after --from")
        try:
            params, limits = load_strategy(opts["config"]), load_risk(opts["risk_config"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        bars, first = self._bars(opts, start, end)
        if len(bars) < 2:
            raise CommandError(f"no candles for {opts['symbol']} in that range ({opts['source']})")
        options = BacktestOptions(
            initial_krw=opts["initial_krw"],
            slippage_bps=opts["slippage_bps"],
            start=first,
            regime=opts["regime"],
        )
        result = run_backtest(opts["symbol"], bars, params, limits, options)
        self.stdout.write(format_text(result))
        if opts["html"]:
            try:
                write_html(result, str(opts["html"]))
            except OSError as exc:  # checked before the run; the disk may still fill up
                raise CommandError(f"cannot write {opts['html']}: {exc.strerror or exc}") from exc
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
