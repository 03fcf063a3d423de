"""manage.py backtest: replay the live strategy over stored, simulated or CSV candles, for one
symbol (--symbol) or a portfolio traded from one account (--symbols)."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.bounds import decimal_option, file_option, int_option, moment_option
from trading.backtest import (
    BacktestOptions,
    load_bars,
    load_csv_bars,
    load_sim_bars,
    run_backtest,
    run_portfolio,
    volatility_history,
)
from trading.backtest_report import format_portfolio_text, format_text, write_html, write_portfolio_html
from trading.backtest_runs import MAX_SYMBOLS, parse_symbols, without_candles
from trading.config import ConfigError, load_risk, load_strategy
from trading.risk import KST

KST_MOMENT = moment_option(KST)  # dates without an offset are read in KST (the time shown everywhere)
MAX_INITIAL_KRW = 10**11
MAX_SLIPPAGE_BPS = 1000  # 10 %
SOURCES = "db, sim or csv:PATH"


class Command(BaseCommand):
    help = (
        "Backtest strategy v3.1 on one symbol (--symbol) or a portfolio from one account (--symbols): "
        "the live rules, the paper fill model, the risk limits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", help="one market, e.g. KRW-BTC")
        parser.add_argument(
            "--symbols",
            help=f"a portfolio traded from one account, e.g. KRW-BTC,KRW-ETH (at most {MAX_SYMBOLS}, "
            "in the order the bot visits them; --source db or sim)",
        )
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
        symbols, portfolio = self._symbols(opts)
        source, start, end = opts["source"], opts["start"], opts["end"]
        if start and end and end <= start:
            raise CommandError("--to must be after --from")
        if source not in ("db", "sim") and not source.startswith("csv:"):
            raise CommandError(f"unknown --source {source!r}: use {SOURCES}")
        if not source.startswith("csv:"):  # stored and simulated candles: the last 30 days by default
            end = end or timezone.now()
            start = start or end - timedelta(days=30)
        try:
            params, limits = load_strategy(opts["config"]), load_risk(opts["risk_config"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        loaded = {symbol: self._bars(opts, symbol, start, end) for symbol in symbols}
        missing = without_candles(loaded)
        if missing:
            raise CommandError(f"no candles for {', '.join(missing)} in that range ({source})")
        options = BacktestOptions(
            initial_krw=opts["initial_krw"],
            slippage_bps=opts["slippage_bps"],
            start=loaded[symbols[0]][1],  # the same first decision for every symbol
            regime=opts["regime"],
            # the stored GARCH fits: entries are halved while the state was high, as live
            volatility=volatility_history(start, end) if source == "db" else (),
        )
        bars = {symbol: b for symbol, (b, _) in loaded.items()}
        if portfolio:
            result = run_portfolio(bars, params, limits, options)
            text, write = format_portfolio_text(result), write_portfolio_html
        else:
            result = run_backtest(symbols[0], bars[symbols[0]], params, limits, options)
            text, write = format_text(result), write_html
        self.stdout.write(text)
        if opts["html"]:
            try:
                write(result, str(opts["html"]))
            except OSError as exc:  # checked before the run; the disk may still fill up
                raise CommandError(f"cannot write {opts['html']}: {exc.strerror or exc}") from exc
            self.stdout.write(f"\nHTML report written to {opts['html']}")

    def _symbols(self, opts) -> tuple[list[str], bool]:
        """The markets to run and whether they are a portfolio; refuses an unclear request."""
        one, several = opts["symbol"], opts["symbols"]
        if one is not None and several is not None:
            raise CommandError(
                "give either --symbol (one market) or --symbols (a portfolio from one account), not both"
            )
        if one is None and several is None:
            raise CommandError("name what to backtest: --symbol KRW-BTC, or --symbols KRW-BTC,KRW-ETH")
        if one is not None:
            return [one], False
        if opts["source"].startswith("csv:"):
            raise CommandError(
                "--source csv:PATH holds the candles of one market: use it with --symbol; "
                "a portfolio (--symbols) runs on --source db or sim"
            )
        symbols, errors = parse_symbols(several)
        if errors:
            raise CommandError("--symbols: " + "; ".join(errors))
        return symbols, True

    def _bars(self, opts, symbol, start, end):
        source = opts["source"]
        if source.startswith("csv:"):
            bars = load_csv_bars(source[4:])
            first = int(start.timestamp()) if start else None
            if end is not None:
                bars = bars.tail(int((bars.ts < end.timestamp()).sum()))
            return bars, first
        if source == "sim":
            return load_sim_bars(symbol, start, end, seed=opts["seed"])
        return load_bars(symbol, start, end)
