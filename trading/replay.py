"""Replay stored history through the real bot cycle on a simulated clock.

Used twice: to prove the live path and the backtester agree trade for trade (the parity test),
and on the embedded default's first start, so a new user finds positions, trades and risk events
made by the real engine (booked with mode "replay") before it goes on in real time.

The clock stops at every bar close; the cycle sees only bars closed by then, the regime of the
hourly computation without look-ahead, and an order fills at the next bar's open and time,
exactly as the backtester fills.
"""

import logging
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from market.regime import REGIMES, hourly_closes, moving_diff, regime_codes_per_bar

from .cycle import Market, Quote, SymbolResult, run_cycle
from .executors.base import Executor
from .strategy import LIVE_WINDOW_BARS

log = logging.getLogger(__name__)


class HourlyRegime(NamedTuple):
    symbol: str
    hour: datetime
    regime: str
    ma50: float | None
    ma200: float | None
    diff_pct: float | None


class ReplayMarket:
    """Serves each cycle the history as it was at the simulated `now`."""

    def __init__(
        self,
        frames: dict[str, pd.DataFrame],
        regime: str | None = None,
        volatility: tuple[tuple[int, bool], ...] = (),
    ):
        # the volatility state's history, (fitted at epoch s, high?) oldest first, as the
        # backtester reads it (BacktestOptions.volatility): the cycle sees the fit of its time
        self.volatility = volatility
        self.frames = {s: f for s, f in frames.items() if not f.empty}
        self.ts = {
            s: (f.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s") for s, f in self.frames.items()
        }
        self.ts = {s: np.asarray(t, dtype=np.int64) for s, t in self.ts.items()}
        self.forced = bool(regime)
        self.codes = {
            s: np.full(len(f), REGIMES.index(regime), dtype=np.int8)
            if regime
            else regime_codes_per_bar(self.ts[s], f["close"].to_numpy(dtype=np.float64))
            for s, f in self.frames.items()
        }

    def _closed(self, symbol: str, now: datetime) -> int:
        """Number of bars of `symbol` closed by `now`."""
        return int(np.searchsorted(self.ts[symbol], int(now.timestamp()) - 60, side="right"))

    def candles(self, symbols: list[str], now: datetime) -> dict[str, pd.DataFrame]:
        out = {}
        for symbol in symbols:
            if symbol in self.frames:
                end = self._closed(symbol, now)
                out[symbol] = self.frames[symbol].iloc[max(0, end - LIVE_WINDOW_BARS) : end]
        return out

    def regime(self, symbol: str, now: datetime) -> str:
        return str(REGIMES[self.codes[symbol][self._closed(symbol, now) - 1]])

    def quote(self, symbol: str, now: datetime, frame: pd.DataFrame) -> Quote:
        nxt = self._closed(symbol, now)
        if nxt >= len(self.ts[symbol]):
            raise LookupError(f"{symbol}: no bar after {now:%Y-%m-%d %H:%M} to fill at")
        price = Decimal(repr(float(self.frames[symbol]["open"].iloc[nxt])))
        return Quote(price, datetime.fromtimestamp(int(self.ts[symbol][nxt]), UTC))

    def decision_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Every bar close in [start, end) that has a next bar to fill at, across all symbols."""
        lo, hi = int(start.timestamp()), int(end.timestamp())
        closes = [t[:-1] + 60 for t in self.ts.values()]
        stamps = np.unique(np.concatenate(closes)) if closes else np.array([], dtype=np.int64)
        stamps = stamps[(stamps >= lo) & (stamps < hi)]
        return [datetime.fromtimestamp(int(s), UTC) for s in stamps]

    def high_volatility(self, now: datetime) -> bool:
        i = bisect_right([t for t, _ in self.volatility], int(now.timestamp())) - 1
        return i >= 0 and self.volatility[i][1]

    def market(self, now: datetime | None = None) -> Market:
        market = Market(candles=self.candles, regime=self.regime, quote=self.quote)
        if now is not None and self.volatility:
            market.high_volatility = lambda: self.high_volatility(now)
        return market

    def hourly_regimes(self, start: datetime, end: datetime) -> list[HourlyRegime]:
        """The regime the cycles saw at every whole hour in [start, end), with the MA50 / MA200 /
        diff it came from (the hours closed before that hour, as the hourly job reads them; None
        for a forced regime or before 200 hours)."""
        first = pd.Timestamp(start).ceil("h")
        hours = pd.date_range(first, end, freq="h", inclusive="left")
        stamps = np.asarray((hours - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s"), dtype=np.int64)
        rows = []
        for symbol, ts in self.ts.items():
            closed = np.searchsorted(ts, stamps - 60, side="right")
            hour_ids, closes = hourly_closes(ts, self.frames[symbol]["close"].to_numpy(dtype=np.float64))
            averages = np.column_stack(moving_diff(closes)) if len(closes) else np.empty((0, 3))
            seen = np.searchsorted(hour_ids, stamps // 3600, side="left") - 1  # the newest closed hour
            for hour, n, k in zip(hours, closed, seen, strict=True):
                if n:
                    ma = averages[k] if k >= 0 and not self.forced else (np.nan,) * 3
                    rows.append(
                        HourlyRegime(
                            symbol, hour.to_pydatetime(), str(REGIMES[self.codes[symbol][n - 1]]),
                            *(None if np.isnan(v) else float(v) for v in ma),
                        )
                    )  # fmt: skip
        return rows


def replay(
    frames: dict[str, pd.DataFrame],
    *,
    start: datetime,
    end: datetime,
    executor: Executor,
    regime: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    market: ReplayMarket | None = None,
) -> list[SymbolResult]:
    """Run the cycle at every bar close in [start, end); return every symbol result that acted."""
    market = market or ReplayMarket(frames, regime)
    times = market.decision_times(start, end)
    acted = []
    for i, now in enumerate(times):
        results = run_cycle(
            now=now, slot=now, market=market.market(now), executor=executor, write_status=False, ask_ai=False
        )
        acted += [r for r in results if r.action in ("BUY", "SELL", "BLOCKED", "ERROR")]
        if progress and (i % 500 == 0 or i == len(times) - 1):
            progress(i + 1, len(times))
    return acted
