"""Data for the Market page: candles aggregated server-side, indicators, regimes and trade markers.

A range is shown in the smallest bar size that keeps it under MAX_BARS points, aggregated by the
database (PostgreSQL: one GROUP BY over the range; SQLite: pandas over the range's minutes), so a
year of 1-minute candles never reaches the browser.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F, Q, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Lag
from django.utils.translation import get_language, gettext, ngettext

from core.caching import cached, newest_id, put
from core.kst import KST, kst_text
from market import indicators as ind
from market import rollups
from market.candles import last_stored_timestamps, load_frames
from market.models import RegimeHistory
from trading.glossary import PARTIAL, partial_level
from trading.models import Trade

MAX_BARS = 5000
RANGES = {
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
BAR_SIZES = [("1m", 1), ("5m", 5), ("15m", 15), ("1h", 60), ("4h", 240), ("1d", 1440)]

# Only constants are formatted in. `date_bin` keeps bars aligned to UTC, like the rollup's buckets.
PG_BUCKETS = (
    "SELECT EXTRACT(EPOCH FROM date_bin(%s::interval, {time}, TIMESTAMPTZ '2000-01-01'))"
    "::bigint AS b, "
    "(array_agg(open ORDER BY {time}))[1]::float8, max(high)::float8, min(low)::float8, "
    "(array_agg(close ORDER BY {time} DESC))[1]::float8, sum(volume)::float8 "
    "FROM {table} WHERE symbol = %s AND {level} = %s AND {time} >= %s AND {time} < %s "
    "GROUP BY b ORDER BY b"
)
MINUTES_SOURCE = {"table": "market_data", "time": '"timestamp"', "level": "interval"}
ROLLUP_SOURCE = {"table": "market_data_rollup", "time": "bucket", "level": "bar"}


@dataclass(frozen=True)
class ChartRequest:
    symbol: str
    range_key: str
    end: datetime

    @property
    def start(self) -> datetime:
        return self.end - RANGES[self.range_key]

    @property
    def bar(self) -> tuple[str, int]:
        minutes = RANGES[self.range_key] / timedelta(minutes=1)
        return next((name, m) for name, m in BAR_SIZES if minutes / m <= MAX_BARS)


def parse_request(params, symbols: list[str], now: datetime) -> tuple[ChartRequest, list[str]]:
    """Symbol and range from the query string; unknown values fall back with a message."""
    problems = []
    fallback = symbols[0] if symbols else "KRW-BTC"
    symbol = params.get("symbol") or fallback
    if symbol not in symbols:
        problems.append(
            gettext("unknown symbol %(symbol)s; showing %(fallback)s")
            % {"symbol": repr(symbol), "fallback": fallback}
        )
        symbol = fallback
    range_key = params.get("range", "1d")
    if range_key not in RANGES:
        problems.append(
            gettext("unknown range %(range)s; showing %(fallback)s")
            % {"range": repr(range_key), "fallback": "1d"}
        )
        range_key = "1d"
    return ChartRequest(symbol, range_key, now), problems


def candles(req: ChartRequest) -> pd.DataFrame:
    """OHLCV bars of the request's bar size (UTC index), at most MAX_BARS.

    Aggregated bars start at a whole bar before the range start, so the first bar is complete.
    PostgreSQL groups the hourly rollup (market/rollups.py) when the bar size is a multiple of
    it, else the minutes; SQLite resamples the minutes with pandas.
    """
    _, minutes = req.bar
    if minutes == 1:
        frame = load_frames([req.symbol], start=req.start, end=req.end)[req.symbol]
        return frame[["open", "high", "low", "close", "volume"]]
    start = rollups.floor_to(req.start, timedelta(minutes=minutes))
    if rollups.enabled():
        return _pg_buckets(req.symbol, minutes, start, req.end)
    frame = load_frames([req.symbol], start=start, end=req.end)[req.symbol]
    if frame.empty:
        return frame[["open", "high", "low", "close", "volume"]]
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return frame.resample(f"{minutes}min", origin="epoch").agg(agg).dropna(subset=["open"])


def _pg_buckets(symbol: str, minutes: int, start: datetime, end: datetime, *, rollup: bool = True):
    whole_buckets = minutes % (rollups.WIDTH // timedelta(minutes=1)) == 0
    source, level = (ROLLUP_SOURCE, rollups.BAR) if rollup and whole_buckets else (MINUTES_SOURCE, "1m")
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            PG_BUCKETS.format(**source),
            [f"{minutes} minutes", symbol, level, adapt(start), adapt(end)],
        )
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["t", "open", "high", "low", "close", "volume"])
    frame.index = pd.to_datetime(frame.pop("t"), unit="s", utc=True)
    return frame


def page_chart(req: ChartRequest) -> dict:
    """What the page itself shows of its chart: symbol, bar size, bar count, first bar and coverage.

    The chart's data (up to ~800 KiB for a year) is not in the page: the page fetches it from
    `chart_body`, so the HTML stays small and a browser that has the data gets a 304. Both are
    computed together, once for all web processes, until the symbol's newest candle, the newest
    trade or the newest regime row changes, or a minute passes (core/caching.py).
    """
    key = _chart_key(req)
    chart = cached(f"{key}:summary", lambda: _summary(req, key))
    # The note is worded here, outside the cache: readers of either language share the cached chart.
    return {**chart, "covers": coverage_note(req, chart["first_bar"])}


def chart_body(req: ChartRequest) -> tuple[bytes, str]:
    """`chart_data` as JSON bytes (kept encoded: encoding a year costs more than serving it) and
    its ETag, which changes with the data."""
    key = _chart_key(req)
    body = cached(f"{key}:body", lambda: _encoded(chart_data(req)))
    tag = hashlib.blake2b(f"{key}:{get_language()}".encode(), digest_size=12).hexdigest()
    return body, f'"{tag}"'


def _chart_key(req: ChartRequest) -> str:
    """The cache key of a chart: what makes it stale at once (a new candle, trade or regime row)."""
    newest_bar = last_stored_timestamps([req.symbol])[req.symbol]
    stamp = f"{newest_bar:%Y%m%d%H%M}" if newest_bar else "none"
    newest_rows = f"{stamp}:{newest_id(Trade)}:{newest_id(RegimeHistory)}"
    return f"market-chart:v3:{req.symbol}:{req.range_key}:{newest_rows}"


def _summary(req: ChartRequest, key: str) -> dict:
    data = chart_data(req)
    put(f"{key}:body", _encoded(data))  # the page's fetch of the data, right after, finds it
    return {
        "symbol": data["symbol"],
        "bar": data["bar"],
        "points": data["points"],
        "first_bar": data["t"][:1],
    }


def _encoded(data: dict) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def coverage_note(req: ChartRequest, times: list[str]) -> str:
    """ "" when the bars start where the range does; otherwise how much of it is stored ("1y" on a
    two-week-old install shows two weeks)."""
    if not times:
        return ""
    first = datetime.fromisoformat(times[0]).replace(tzinfo=KST)
    if first - req.start < timedelta(minutes=req.bar[1]) + timedelta(days=1):
        return ""
    days = round((req.end - first) / timedelta(days=1))
    return ngettext(
        "Only %(days)s day of %(range)s is stored: the first bar is %(first)s KST.",
        "Only %(days)s days of %(range)s are stored: the first bar is %(first)s KST.",
        days,
    ) % {"days": days, "range": req.range_key, "first": times[0]}


def chart_data(req: ChartRequest) -> dict:
    """Everything the page's script draws, as built-in JSON types (times in KST)."""
    bars = candles(req)
    close = bars["close"].to_numpy(dtype=np.float64)
    upper, middle, lower = ind.bollinger(close) if len(close) else (close, close, close)
    kst = kst_minutes(bars.index)
    return {
        "symbol": req.symbol,
        "range": req.range_key,
        "bar": req.bar[0],
        "points": len(bars),
        "t": kst,
        "open": _list(bars["open"]),
        "high": _list(bars["high"]),
        "low": _list(bars["low"]),
        "close": _list(bars["close"]),
        "volume": _list(bars["volume"]),
        "ma20": _list(middle),
        "bb_upper": _list(upper),
        "bb_lower": _list(lower),
        "rsi14": _list(ind.rsi(close, 14)) if len(close) else [],
        # The axis spans the range asked for and ends now: plotly pads a bar's width past the last one.
        "x_range": kst_minutes(pd.DatetimeIndex([req.start, req.end])),
        "regimes": regime_spans(req),
        "trades": trade_markers(req),
    }


def regime_spans(req: ChartRequest) -> list[dict]:
    """Consecutive runs of the same regime in the range (from RegimeHistory), for shading.

    The database keeps only the rows where the regime changed (LAG), so a year of hourly
    evaluations arrives as a few dozen rows.
    """
    before = (
        RegimeHistory.objects.filter(coin_symbol=req.symbol, created_at__lt=req.start)
        .order_by("-created_at")
        .values_list("regime", flat=True)
        .first()
    )
    order = [F("created_at").asc(), F("id").asc()]
    changes = (
        RegimeHistory.objects.filter(
            coin_symbol=req.symbol, created_at__gte=req.start, created_at__lt=req.end
        )
        .annotate(previous=Window(Lag("regime"), order_by=order))
        .filter(Q(previous__isnull=True) | ~Q(previous=F("regime")))
        .order_by("created_at", "id")
        .values_list("created_at", "regime")
    )
    rows = [(req.start, before), *changes] if before else list(changes)
    spans = []
    for at, regime in rows:
        if spans and spans[-1]["regime"] == regime:
            continue
        if spans:
            spans[-1]["end"] = kst_text(at)
        spans.append({"regime": regime, "start": kst_text(max(at, req.start)), "end": kst_text(req.end)})
    return spans


def trade_markers(req: ChartRequest) -> list[dict]:
    """Filled trades in the range; only the columns drawn (no JSON documents decoded in Python).

    `level` is the scale-out level a PARTIAL_TAKE_PROFIT sale completed (None otherwise) and
    `qty` what was traded: a scale-out's marker says how much of the position it sold.
    """
    rows = (
        Trade.objects.filter(
            symbol=req.symbol, status="FILLED", executed_at__gte=req.start, executed_at__lt=req.end
        )
        .order_by("executed_at")
        .values_list(
            "executed_at",
            "price",
            "quantity",
            "side",
            "exit_reason",
            KT("signal_info__pnl"),
            KT("signal_info__partial_levels_done"),
        )[:MAX_BARS]
    )
    rows = list(rows)
    times = kst_minutes(pd.DatetimeIndex([row[0] for row in rows]))
    return [
        {
            "t": t,
            "price": float(price),
            "qty": float(quantity),
            "side": side,
            "reason": reason,
            "pnl": pnl,
            "level": partial_level(level) if reason == PARTIAL else None,
        }
        for t, (_, price, quantity, side, reason, pnl, level) in zip(times, rows, strict=True)
    ]


def kst_minutes(times: pd.DatetimeIndex) -> list[str]:
    """Aware times as KST "YYYY-MM-DD HH:MM" (core.kst's MINUTE), for a whole chart at once: a
    year's bars and markers formatted one by one cost more than their query."""
    if times.empty:
        return []
    local = times.tz_convert(KST).tz_localize(None).to_numpy().astype("datetime64[m]")
    return [text.replace("T", " ") for text in np.datetime_as_string(local, unit="m").tolist()]


def _list(values) -> list:
    array = np.round(np.asarray(values, dtype=np.float64), 8)
    return np.where(np.isnan(array), None, array).tolist()
