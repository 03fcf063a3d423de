"""Jobs around the symbol list: the daily refresh of Upbit's market list, and the history a newly
added symbol needs before its regime (and so its first entry) is known."""

import logging
from datetime import datetime, timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.notify import notify

from . import listing, regime
from .backfill import Backfill
from .candles import floor_minute
from .sources import get_source

log = logging.getLogger(__name__)

QUEUE = "market"
# The regime needs 200 hourly closes; backfill the whole window it reads (10 days).
HISTORY = timedelta(hours=regime.LOOKBACK_HOURS)
BACKFILL_SOURCES = ("sim", "upbit")  # a CSV replays one file: nothing to fetch for a new name
SECONDS_PER_SYMBOL = 60  # Upbit: 72 pages at 9.5 requests/s is about 8 s, shared with the collector


def refresh_upbit_markets(*, slot: datetime) -> str:
    """Store Upbit's market list (scheduled daily); the simulated and CSV sources skip it."""
    if not listing.uses_upbit_list():
        return f"skipped: the market source is {settings.COINPILOT_MARKET_SOURCE}, not upbit"
    return listing.refresh(now=timezone.now()).summary()


def enqueue_backfill(symbols: list[str]) -> str | None:
    """Queue the history backfill and regime update of newly added symbols; the job id.

    Never raises: the new configuration is stored either way, and the collector and the hourly
    regime job catch up on their own (it just takes days instead of minutes).
    """
    if not symbols:
        return None
    try:
        job = django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            backfill_new_symbols,
            list(symbols),
            job_timeout=120 + SECONDS_PER_SYMBOL * len(symbols),
            result_ttl=86400,
            description=f"backfill new symbols {', '.join(symbols)[:200]}",
        )
    except Exception:
        log.warning("could not queue the backfill of %s", ", ".join(symbols), exc_info=True)
        return None
    return job.id


def backfill_new_symbols(symbols: list[str]) -> str:
    """The job: HISTORY of 1-minute candles for each symbol, then its regime at once."""
    spec = settings.COINPILOT_MARKET_SOURCE.strip()
    if spec not in BACKFILL_SOURCES:
        return f"skipped: the market source {spec} has no history to fetch for new symbols"
    now = timezone.now()
    until = floor_minute(now)  # closed bars only
    source = get_source(spec)
    try:
        reports = Backfill(source, until - HISTORY, until).run(symbols)
    finally:
        source.close()
    failed = [f"{r.symbol}: {r.error}" for r in reports if r.error]
    if failed:
        notify(
            "system",
            {"title": gettext_lazy("Backfill of new symbols failed"), "detail": "; ".join(failed)[:1000]},
        )
    readings = regime.update_regimes(symbols, now)
    stored = sum(r.stored for r in reports)
    regimes = ", ".join(f"{r.symbol} {r.regime}" for r in readings)
    return f"stored {stored:,} bars; regimes: {regimes}" + (f"; failed: {len(failed)}" if failed else "")
