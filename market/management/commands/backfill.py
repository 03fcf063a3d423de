"""manage.py backfill: fill 1-minute candle history (resumable, idempotent, with progress)."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.bounds import float_option, moment_option
from market.backfill import Backfill, SymbolReport, resolve_range, stored_elsewhere, switching_refusal
from market.candles import delete_candles
from market.listing import symbol_errors
from market.models import CandleSource
from market.sources import get_source
from market.symbols import active_symbols
from market.upbit import BannedError

MAX_DAYS = 3650  # Upbit's KRW history starts in 2017
UTC_MOMENT = moment_option()


class Command(BaseCommand):
    help = (
        "Backfill 1-minute candles for SYMBOLS from a source (upbit, sim or csv:PATH). Safe to "
        "interrupt and re-run: stored bars are never fetched again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", help="comma-separated, e.g. KRW-BTC,KRW-ETH (default: active)")
        parser.add_argument(
            "--days",
            type=float_option(0, MAX_DAYS, "days", above=True),
            help=f"days back from --until, at most {MAX_DAYS} (default 30; csv: whole file)",
        )
        parser.add_argument("--since", type=UTC_MOMENT, help="start, ISO 8601 (UTC unless an offset)")
        parser.add_argument("--until", type=UTC_MOMENT, help="end, exclusive (default now / end of the csv)")
        parser.add_argument("--source", help="upbit | sim | csv:PATH (default COINPILOT_MARKET_SOURCE)")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="for symbols whose stored candles come from another source: delete them (and their "
            "rollups) first, then backfill from this source",
        )
        parser.add_argument(
            "--if-configured",
            action="store_true",
            help="do nothing unless --source is the configured COINPILOT_MARKET_SOURCE (dev.py uses it "
            "so simulated candles never mix into real ones)",
        )

    def handle(self, *args, **opts) -> None:
        spec = opts["source"] or settings.COINPILOT_MARKET_SOURCE
        if opts["if_configured"] and spec != settings.COINPILOT_MARKET_SOURCE:
            self.stdout.write(f"backfill skipped: source {spec} is not the configured one")
            return
        try:
            source = get_source(spec)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        symbols = [s.strip().upper() for s in (opts["symbols"] or "").split(",") if s.strip()]
        symbols = symbols or active_symbols()
        errors = symbol_errors(symbols, source=spec)  # upbit: also Upbit's market list
        if errors:
            source.close()
            raise CommandError("nothing stored: " + "; ".join(errors))
        try:
            since, until = resolve_range(
                source, now=timezone.now(), days=opts["days"], since=opts["since"], until=opts["until"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self._one_source_per_symbol(symbols, source.name, replace=opts["replace"])
        self.stdout.write(
            f"backfill {', '.join(symbols)} from {source.name}: "
            f"{since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC"
        )
        bar = ProgressBar(self.stdout)
        job = Backfill(source, since, until, progress=bar.update)
        try:
            job.run(symbols)
        except BannedError as exc:
            raise CommandError(f"stopped: {exc}. Run again after the ban; nothing is lost.") from exc
        except KeyboardInterrupt:
            self.stdout.write("\ninterrupted: run the same command again to continue where it stopped")
            sys.exit(130)
        finally:
            source.close()
        self._summary(job.reports)

    def _one_source_per_symbol(self, symbols: list[str], source: str, *, replace: bool) -> None:
        """Refuse to mix sources in a symbol's candles; with --replace, delete the other ones first."""
        others = stored_elsewhere(symbols, source)
        if not replace:
            refusal = switching_refusal(others, source)
            if refusal:
                raise CommandError(refusal)
            for other in others:  # unrecorded sources: kept, but said
                self.stdout.write(
                    self.style.WARNING(
                        f"{other.symbol}: {other.count:,} stored candles have no recorded source "
                        f"(stored before sources were recorded); if they are not from {source}, "
                        "run again with --replace"
                    )
                )
            return
        for other in others:
            deleted = delete_candles([other.symbol])
            what = f"from {other.source}"
            if other.source == CandleSource.UNKNOWN:
                what = "with no recorded source"
            self.stdout.write(f"{other.symbol}: deleted {deleted:,} candles {what} and their rollups")

    def _summary(self, reports: list[SymbolReport]) -> None:
        self.stdout.write("")
        for r in reports:
            status = self.style.ERROR(f"  FAILED: {r.error}") if r.error else ""
            self.stdout.write(
                f"{r.symbol:<12} stored {r.stored:>9,}  already present {r.present + r.duplicates:>9,}  "
                f"gaps {r.gaps:,} ({r.missing_minutes:,} min)  requests {r.pages:,}{status}"
            )
        total = sum(r.stored for r in reports)
        present = sum(r.present + r.duplicates for r in reports)
        failed = [r.symbol for r in reports if r.error]
        line = f"total: stored {total:,}, already present {present:,}"
        self.stdout.write(self.style.WARNING(f"{line}; failed: {', '.join(failed)}") if failed else line)
        if failed:
            raise CommandError(f"{len(failed)} symbol(s) failed; re-run to retry them")


class ProgressBar:
    """One line per symbol: bar, bars stored, rate and ETA; redrawn in place on a terminal."""

    def __init__(self, out, width: int = 24, every: float = 2.0):
        self.out = out
        self.width = width
        self.every = every  # seconds between lines when not a terminal
        self.tty = getattr(out, "isatty", lambda: False)()
        self.symbol = None
        self.started = self.last = 0.0
        self.finished = False

    def update(self, report: SymbolReport) -> None:
        now = time.monotonic()
        if report.symbol != self.symbol:
            if self.symbol and self.tty:
                self.out.write("")
            self.symbol, self.started, self.last, self.finished = report.symbol, now, 0.0, False
        finished = report.minutes_done >= report.minutes
        if self.finished or not (self.tty or finished or now - self.last >= self.every):
            return
        self.finished = finished
        self.last = now
        share = report.minutes_done / report.minutes if report.minutes else 1.0
        filled = int(share * self.width)
        elapsed = max(now - self.started, 1e-9)
        rate = report.stored / elapsed
        eta = elapsed / share - elapsed if 0 < share < 1 else 0.0
        line = (
            f"{report.symbol:<12} [{'#' * filled}{'.' * (self.width - filled)}] {share:6.1%}  "
            f"{report.stored:>9,} bars  {rate:8,.0f} bars/s  ETA {_duration(eta)}"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        else:
            self.out.write(line)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
