"""A seeded, realistic market for the offline demo and tests.

Two layers, so that any minute can be produced without generating everything before it:
- a daily chain per (seed, symbol) from EPOCH: a Markov regime (BULL/SIDEWAYS/BEAR drift),
  a clustered daily volatility, and mean reversion that keeps prices in a sane band. It is a
  few numbers per day, so walking it from 2020 costs about a millisecond per year;
- the minutes of one day, from their own seed: a Brownian bridge between that day's open and
  close levels, with hourly volatility clustering, occasional shock bursts, volume that rises
  with the size of the move, prices on Upbit's KRW tick grid and a few minutes without trades.

So a bar depends only on (seed, symbol, minute): "live" generation just extends to now.

The order book is derived from the latest closed bar, so it is as deterministic as the bars:
one tick wide around the close, on Upbit's tick grid, with a quarter of that minute's turnover
(at least 2,000,000 KRW) resting on the first level and more on each level further out.
"""

import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache

import numpy as np

from market.ticks import QTY_STEP, SMALLEST_TICK, round_to_tick
from market.ticks import tick_size as upbit_tick

from ..listing import SYMBOL_RE
from ..orderbook import Level, OrderBook, validated
from .base import MarketDataSource

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
MINUTES = 1440
_OFFSETS = [timedelta(minutes=i) for i in range(MINUTES)]
BULL, SIDEWAYS, BEAR = 0, 1, 2
DRIFT = {BULL: 0.015, SIDEWAYS: 0.0, BEAR: -0.015}  # log return per day
BASE_VOL = {BULL: 0.022, SIDEWAYS: 0.016, BEAR: 0.030}  # daily volatility, before the symbol's scale
STAY = {BULL: 0.88, SIDEWAYS: 0.84, BEAR: 0.88}  # mean regime length about 8 and 6 days
# symbol -> (start price KRW, volatility scale, base volume per minute, share of minutes without trades)
PROFILES = {
    "KRW-BTC": (95_000_000, 1.0, 2.0, 0.002),
    "KRW-ETH": (4_500_000, 1.25, 25.0, 0.004),
    "KRW-XRP": (900, 1.5, 90_000.0, 0.008),
    "KRW-SOL": (220_000, 1.6, 400.0, 0.010),
    "KRW-DOGE": (250, 1.8, 600_000.0, 0.012),
}
# Upbit KRW tick sizes: (lower bound, tick)
TICKS = (
    (2_000_000, 1000),
    (1_000_000, 1000),
    (500_000, 500),
    (100_000, 100),
    (50_000, 50),
    (10_000, 10),
    (5_000, 5),
    (100, 1),
    (10, 0.1),
    (1, 0.01),
    (0, 0.001),
)


BOOK_LEVELS = 15
LEVEL_SHARE = Decimal("0.25")  # of the last minute's KRW turnover, resting on the first level
MIN_LEVEL_KRW = Decimal("2000000")  # so a normal entry (a few 100,000 KRW) fills in a level or two


def profile(symbol: str) -> tuple[float, float, float, float]:
    """Start price, volatility scale, base volume and gap share of a symbol (made up if unknown)."""
    if symbol in PROFILES:
        return PROFILES[symbol]
    h = zlib.crc32(symbol.encode())
    price = 10 ** (2 + (h % 5000) / 1000)  # 100 .. 10,000,000 KRW
    return price, 1.2 + (h % 7) / 10, 1e6 / price, 0.005


def tick_size(price: float) -> float:
    for bound, tick in TICKS:
        if price >= bound:
            return tick
    return TICKS[-1][1]


@dataclass
class DailyChain:
    """The per-day state of one (seed, symbol), extended on demand and never recomputed."""

    seed: int
    symbol: str
    level: list = field(default_factory=list)  # log price at the start of each day
    regime: list = field(default_factory=list)
    vol: list = field(default_factory=list)

    def __post_init__(self):
        price, self.scale, _, _ = profile(self.symbol)
        self.anchor = float(np.log(price))
        self.rng = np.random.default_rng([self.seed, zlib.crc32(self.symbol.encode()), 0])
        self.level.append(self.anchor)
        self.regime.append(SIDEWAYS)
        self.vol.append(BASE_VOL[SIDEWAYS] * self.scale)

    def extend_to(self, day: int) -> None:
        """Make days 0..day+1 known (day+1's level is the close of `day`)."""
        while len(self.level) <= day + 1:
            d = len(self.level) - 1
            u, vol_shock, z = self.rng.random(), self.rng.standard_normal(), self.rng.standard_normal()
            reg, level, vol = self.regime[d], self.level[d], self.vol[d]
            self.level.append(level + DRIFT[reg] + 0.01 * (self.anchor - level) + vol * z)
            self.regime.append(_next_regime(reg, u))
            target = BASE_VOL[self.regime[-1]] * self.scale
            self.vol.append(float(np.exp(0.2 * np.log(target) + 0.8 * np.log(vol) + 0.2 * vol_shock)))


def _next_regime(regime: int, u: float) -> int:
    if u < STAY[regime]:
        return regime
    u = (u - STAY[regime]) / (1 - STAY[regime])
    if regime == SIDEWAYS:
        return BULL if u < 0.5 else BEAR
    return SIDEWAYS if u < 0.7 else (BEAR if regime == BULL else BULL)


_chains: dict[tuple[int, str], DailyChain] = {}
_chains_lock = threading.Lock()  # the collector fetches symbols from several threads


def chain(seed: int, symbol: str, day: int) -> DailyChain:
    with _chains_lock:
        found = _chains.get((seed, symbol))
        if found is None:
            found = _chains[(seed, symbol)] = DailyChain(seed, symbol)
        found.extend_to(day)
        return found


@lru_cache(maxsize=512)
def day_candles(seed: int, symbol: str, day: int) -> tuple[dict, ...]:
    """Every candle of one UTC day (EPOCH + day), as raw candle dicts with decimal strings."""
    daily = chain(seed, symbol, day)
    start_level, end_level, vol = daily.level[day], daily.level[day + 1], daily.vol[day]
    _, _, base_volume, gap_share = profile(symbol)
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode()), day + 1])

    sigma = _minute_sigmas(rng, vol)
    steps = sigma * rng.standard_normal(MINUTES)
    steps += sigma**2 / np.sum(sigma**2) * (end_level - start_level - steps.sum())  # bridge to the close
    path = start_level + np.cumsum(steps)
    close = np.exp(path)
    open_ = np.exp(np.concatenate(([start_level], path[:-1])))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.standard_normal(MINUTES)) * sigma * 0.6)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.standard_normal(MINUTES)) * sigma * 0.6)
    # Volume rises with the size of the move relative to a normal minute of this symbol.
    usual = BASE_VOL[SIDEWAYS] * daily.scale / np.sqrt(MINUTES)
    volume = base_volume * np.exp(0.4 * rng.standard_normal(MINUTES)) * (0.4 + np.abs(steps) / usual)
    traded = rng.random(MINUTES) >= gap_share

    tick = tick_size(float(np.median(close)))
    places = max(0, -int(np.floor(np.log10(tick)))) if tick < 1 else 0
    keep = np.flatnonzero(traded)
    o, h, lo, c = (_on_tick(x[keep], tick, places) for x in (open_, high, low, close))
    v = volume[keep]
    quote = v * np.maximum(np.round(close[keep] / tick), 1) * tick
    base = EPOCH + timedelta(days=day)
    rows = tuple(
        {
            "timestamp": base + _OFFSETS[i],
            "open": o[n],
            "high": h[n],
            "low": lo[n],
            "close": c[n],
            "volume": f"{v[n]:.8f}",
            "quote_volume": f"{quote[n]:.8f}",
        }
        for n, i in enumerate(keep.tolist())
    )
    return rows


def _minute_sigmas(rng: np.random.Generator, daily_vol: float) -> np.ndarray:
    """Per-minute volatility: clustered by hour, with a few decaying shock bursts, summing to the day's."""
    hourly = np.empty(24)
    hourly[0] = rng.normal(0, 0.4)
    for k in range(1, 24):
        hourly[k] = 0.75 * hourly[k - 1] + 0.3 * rng.standard_normal()
    weight = np.repeat(np.exp(hourly), 60)
    minutes = np.arange(MINUTES)
    for at in rng.integers(0, MINUTES, size=rng.poisson(1.5)):
        burst = rng.uniform(2, 5) * np.exp(-(minutes - at) / rng.uniform(5, 30))
        weight *= 1 + np.where(minutes >= at, burst, 0)
    return daily_vol * weight / np.sqrt(np.sum(weight**2))


def simulated_book(
    symbol: str, close: Decimal, quote_volume: Decimal, at: datetime | None = None
) -> OrderBook:
    """A plausible book around `close`: best bid on the close's tick, best ask one tick above,
    level n (from 0) holding (1 + n/2) times the first level's KRW depth."""
    depth = max(quote_volume * LEVEL_SHARE, MIN_LEVEL_KRW)
    best_bid = round_to_tick(close, "SELL")
    asks, bids = [], []
    price = best_bid + upbit_tick(best_bid)
    for n in range(BOOK_LEVELS):
        asks.append(Level(price, _size(depth * (1 + Decimal(n) / 2), price)))
        price += upbit_tick(price)
    price = best_bid
    for n in range(BOOK_LEVELS):
        if price <= 0:
            break
        bids.append(Level(price, _size(depth * (1 + Decimal(n) / 2), price)))
        price -= upbit_tick(price - SMALLEST_TICK)  # the tick just below a boundary is the smaller one
    return validated(symbol, asks, bids, at)


def _size(krw: Decimal, price: Decimal) -> Decimal:
    return (krw / price).quantize(QTY_STEP, rounding=ROUND_DOWN)


def _on_tick(prices: np.ndarray, tick: float, places: int) -> list[str]:
    values = np.maximum(np.round(prices / tick), 1) * tick
    return [f"{value:.{places}f}" for value in values.tolist()]


class SimulatedSource(MarketDataSource):
    """Deterministic per seed; covers every minute from EPOCH to now."""

    name = "sim"
    page_size = 10_080  # a week per fetch: generation is cheap

    def __init__(self, seed: int = 42):
        self.seed = seed

    def fetch_candles(self, symbol: str, *, until: datetime, count: int) -> list[dict]:
        if not SYMBOL_RE.match(symbol):  # it would invent bars for any name, KRW-BTC;DROP included
            raise ValueError(f"{symbol!r} is not a KRW market name like KRW-BTC")
        # Minutes without trades are rare, so a little more than `count` minutes holds `count` bars.
        start = max(EPOCH, until - timedelta(minutes=count + count // 8 + 30))
        if until <= EPOCH:
            return []
        rows = []
        for day in range((start - EPOCH).days, (until - EPOCH - timedelta(microseconds=1)).days + 1):
            candles = day_candles(self.seed, symbol, day)
            rows.extend(row for row in candles if start <= row["timestamp"] < until)
        return [dict(row) for row in rows[-count:]]

    def order_book(self, symbol: str, at: datetime) -> OrderBook | None:
        """The book around the latest bar closed by `at` (None before the simulated epoch)."""
        closed_by = at.replace(second=0, microsecond=0)
        rows = self.fetch_candles(symbol, until=closed_by, count=1)
        if not rows:
            return None
        last = rows[-1]
        return simulated_book(symbol, Decimal(last["close"]), Decimal(last["quote_volume"]), at)
