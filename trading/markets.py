"""Where the live bot cycle reads its inputs: stored candles, the regime cache, volatility state,
and the ticker price while candles are stale."""

import time
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings

from core.models import JobRun
from market import listing
from market.candles import Candles, last_stored_timestamps, load_candles
from market.regime import current_regime, current_regimes
from market.sources import get_source
from market.sources.base import MarketDataSource
from market.sources.upbit import UpbitSource
from market.upbit import UpbitClient
from market.volatility import read_state

from .cycle import STALE_AFTER_S, Market, Quote
from .decided import DatabaseLedger
from .strategy import LIVE_WINDOW_BARS

# Bound the scan: the window is LIVE_WINDOW_BARS bars, and minutes without trades have no bar.
SCAN_MINUTES = 3 * LIVE_WINDOW_BARS


def live_candles(symbols: list[str], now: datetime) -> Candles:
    """The newest closed bars of every symbol, in one query, as column arrays."""
    return load_candles(symbols, start=now - timedelta(minutes=SCAN_MINUTES), end=now, last=LIVE_WINDOW_BARS)


def latest_close(symbol: str, now: datetime, frame: pd.DataFrame) -> Quote:
    """A market order placed now fills around the latest close, now."""
    return Quote(Decimal(str(frame["close"].iloc[-1])), now)


COLLECTOR_JOB = "collect_candles"
COLLECTOR_OFFSET = timedelta(seconds=3)  # its slot in the schedule: 3 s after the minute
POLL_SECONDS = 0.5


def await_bars(symbols: list[str], expected: datetime, deadline: float) -> None:
    """Wait until the collector has stored every symbol's `expected` bar, its run for that minute
    has ended (a minute without trades has no bar), or the monotonic `deadline` passes.

    Only symbols whose feed is running (newest bar within the stale window) are waited for: a
    feed that stopped will not deliver in seconds, and its held positions' stops are due now.
    """
    collector_slot = expected + timedelta(minutes=1) + COLLECTOR_OFFSET
    running_since = expected - timedelta(seconds=STALE_AFTER_S)
    while True:
        newest = last_stored_timestamps(symbols)
        if not any(t is not None and running_since <= t < expected for t in newest.values()):
            return
        ended = JobRun.objects.filter(job=COLLECTOR_JOB, slot=collector_slot, finished_at__isnull=False)
        if ended.exists() or time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


TICKER_ATTEMPTS = 2  # a stop is due now: the cycle cannot wait through the collector's five tries


def live_tickers(symbols: list[str], now: datetime) -> dict[str, Quote]:
    """The latest trade price of each symbol from the configured source (Upbit: one request for
    all, through the shared rate limiter); raises TickerError or an UpbitError when it has none."""
    source = ticker_source()
    try:
        found = source.tickers(symbols, now)
    finally:
        source.close()
    return {symbol: Quote(ticker.price, ticker.at) for symbol, ticker in found.items()}


def ticker_source() -> MarketDataSource:
    if settings.COINPILOT_MARKET_SOURCE.strip() == "upbit":
        return UpbitSource(UpbitClient(max_attempts=TICKER_ATTEMPTS))
    return get_source()


def upbit_market_status(symbols: list[str]) -> dict[str, listing.MarketStatus]:
    """Upbit's flags for each symbol (one query); none unless the market source is Upbit: the
    simulated and CSV markets are not the ones Upbit flags."""
    return listing.statuses(symbols) if listing.uses_upbit_list() else {}


def volatility_is_high() -> bool:
    return bool((read_state() or {}).get("is_high_volatility"))


def live_market() -> Market:
    return Market(
        candles=live_candles,
        regime=lambda symbol, now: current_regime(symbol),
        regimes=lambda symbols, now: current_regimes(symbols),
        quote=latest_close,
        high_volatility=volatility_is_high,
        await_bars=await_bars,
        ledger=DatabaseLedger(),
        ticker=live_tickers,
        market_status=upbit_market_status,
    )
