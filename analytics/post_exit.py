"""Post-exit tracker: where did the price go 1h/4h/12h/24h after each SELL?

For every FILLED SELL, a window is the instant `exit time + 1h/4h/12h/24h` (exit time is
`executed_at`, else `created_at`). It is tracked with the close of the 1m bar whose timestamp (bar
open, as stored) is nearest to that instant within +-5 minutes, ties to the earlier bar:

    post_exit_prices["1h"] = {"price": "<decimal>", "change_pct": <float>, "tracked_at": "<ISO UTC>"}
    change_pct = (tracked_price - exit_price) / exit_price * 100

`tracked_at` is the bar's timestamp, the moment the price is from. A window is due once every
bar inside its +-5 min tolerance has closed; a due window without a bar is a miss, counted and
tried again on every run until the window is 24 h stale. The new windows are merged under the
stored ones, so a window already stored is never overwritten. Per run on PostgreSQL: one
statement that finds every due window, its nearest bar and its change_pct and merges them (a
window whose change_pct lies within 1e-9 of a rounding midpoint is priced by change_pct() in
Python and merged by a second UPDATE). SQLite: one query for the SELLs, one for every due
window's bars, one UPDATE per trade.
"""

import json
from collections import Counter as Tally
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q
from prometheus_client import Counter

from market.candles import parse_timestamp
from market.models import Candle
from trading.booking import decimal_str
from trading.models import Side, Trade, TradeStatus

WINDOWS = {label: timedelta(hours=int(label[:-1])) for label in ("1h", "4h", "12h", "24h")}
TOLERANCE = timedelta(minutes=5)
BAR = timedelta(minutes=1)
STALE_AFTER = timedelta(hours=24)  # a window without a bar is retried this long after its instant

# Labelled (see core/metrics.py: anything incremented inside an RQ job has a label).
TRACKED = Counter("coinpilot_post_exit_tracked_total", "Post-exit windows stored", ["window"])
MISSED = Counter(
    "coinpilot_post_exit_missed_total",
    "Tries of a due post-exit window that found no 1m bar within +-5 min",
    ["window"],
)


@dataclass(frozen=True)
class Window:
    """One pending window of one SELL."""

    trade_id: int
    symbol: str
    label: str
    target: datetime
    exit_price: Decimal


@dataclass(frozen=True)
class TrackResult:
    tracked: int
    missed: int
    sells: int

    def summary(self) -> str:
        return f"{self.tracked} windows tracked, {self.missed} missed, {self.sells} SELLs pending"


def change_pct(exit_price: Decimal, tracked_price: Decimal) -> float:
    """(tracked - exit) / exit * 100, rounded to 4 places."""
    return round(float((tracked_price - exit_price) / exit_price * 100), 4)


def pending_windows(
    trade_id: int,
    symbol: str,
    exit_price: Decimal,
    exit_at: datetime,
    stored: Container[str],
    now: datetime,
    retry_for: timedelta = STALE_AFTER,
) -> list[Window]:
    """Windows of one SELL that are due at `now`, not stored yet and not stale."""
    windows = []
    for label, offset in WINDOWS.items():
        target = exit_at + offset
        if label in stored or now < target + TOLERANCE + BAR or now > target + retry_for:
            continue
        windows.append(Window(trade_id, symbol, label, target, exit_price))
    return windows


def nearest_bar(target: datetime, bars: list[tuple[datetime, Decimal]]) -> tuple[datetime, Decimal] | None:
    """The bar nearest to `target` within the tolerance (ties: the earlier bar), or None."""
    inside = [bar for bar in bars if abs(bar[0] - target) <= TOLERANCE]
    return min(inside, key=lambda bar: (abs(bar[0] - target), bar[0]), default=None)


def track_post_exit_prices(now: datetime, *, retry_for: timedelta = STALE_AFTER) -> TrackResult:
    """Store every due window's price; count the misses.

    `retry_for` longer than 24 h is a one-off catch-up by hand (`manage.py report track --days`),
    e.g. after a replay of history or an outage longer than a day.
    """
    tracked, missed = Tally(), Tally()  # per window label; the metrics are bumped once each
    if connection.vendor == "postgresql":
        stored, sells, found_bars = store_due_windows_postgresql(now, retry_for)
        tracked.update(stored)
    else:
        windows = due_windows(now, retry_for)
        bars = fetch_bars(windows)
        found_bars = [
            (w.trade_id, w.label, w.exit_price, *(nearest_bar(w.target, bars.get(i, [])) or (None, None)))
            for i, w in enumerate(windows)
        ]
        sells = len({row[0] for row in found_bars})
    patches: dict[int, dict] = {}
    for trade_id, label, exit_price, at, price in found_bars:
        if at is None:
            missed[label] += 1
            continue
        patches.setdefault(trade_id, {})[label] = {
            "price": decimal_str(price),
            "change_pct": change_pct(exit_price, price),
            "tracked_at": at.isoformat(),
        }
        tracked[label] += 1
    merge_windows(patches)
    for label, count in tracked.items():
        TRACKED.labels(label).inc(count)
    for label, count in missed.items():
        MISSED.labels(label).inc(count)
    return TrackResult(tracked=tracked.total(), missed=missed.total(), sells=sells)


def due_windows(now: datetime, retry_for: timedelta = STALE_AFTER) -> list[Window]:
    """Every due, unstored, fresh window of the recent FILLED SELLs (one query)."""
    cutoff = _oldest_exit(now, retry_for)
    # Which windows are stored is asked of the database (has_key): no JSON decoded in Python.
    stored_flags = {f"has_{label}": _has_key(label) for label in WINDOWS}
    rows = (
        Trade.objects.filter(side=Side.SELL, status=TradeStatus.FILLED)
        .filter(Q(executed_at__gte=cutoff) | Q(executed_at__isnull=True, created_at__gte=cutoff))
        .order_by()
        .annotate(**stored_flags)
        .values_list("id", "symbol", "price", "executed_at", "created_at", *stored_flags)
    )
    windows = []
    for trade_id, symbol, price, executed_at, created_at, *flags in rows:
        if not price:
            continue  # no exit price, no percentage
        stored = {label for label, flag in zip(WINDOWS, flags, strict=True) if flag}
        windows += pending_windows(trade_id, symbol, price, executed_at or created_at, stored, now, retry_for)
    return windows


def _oldest_exit(now: datetime, retry_for: timedelta) -> datetime:
    """The earliest exit time that can still have a fresh window (both paths filter by it)."""
    return now - max(WINDOWS.values()) - retry_for - TOLERANCE


def _has_key(label: str) -> ExpressionWrapper:
    return ExpressionWrapper(Q(post_exit_prices__has_key=label), output_field=BooleanField())


# PostgreSQL: one statement finds every due window, its nearest bar and its change_pct, and merges
# the new windows into the SELLs' JSON, so no window travels to Python and back. Due/fresh bounds
# are computed per label in Python and compared with the exit time: due once exit_at <= now -
# offset - tolerance - bar, fresh while exit_at >= now - offset - retry_for. The labels are a
# VALUES list so the planner knows there are 4 (a set-returning function is guessed at 100 rows,
# which pushes the estimate past jit_above_cost: JIT compilation alone took 0.34 s).
#
# Nearest bar, one primary-key probe for most windows: 1m bars open on whole minutes, so the
# nearest bar is usually the one at the target's nearest whole minute, d away. The probe walks
# [target - d, target + d] from its far end towards that minute; the first bar it meets is the
# nearest when it lies on the minute's side of the target (anything closer would have been met
# first). Otherwise (the minute's bar is missing, or bars sit off the minute) two probes, the last
# bar at or before the target and the first after it; the nearer wins, a tie goes to the earlier.
#
# change_pct: Python rounds the float of the quotient q to 4 places (half-even on the binary
# value). Below 1e6 % that float is within 1.2e-10 of q and the numeric quotient here within
# 5e-13 (12 decimals or more), so where q is at least 1e-9 from a rounding midpoint (x.xxxx5)
# both round the same way: round(q, 4) is Python's value, and with its trailing zeros trimmed and
# at least one decimal it is Python's repr, which jsonb stores as the same text. Windows near a
# midpoint go back to change_pct() in Python; the misses go back to be counted. The JSON is built
# as text (labels and values need no escaping) and cast once per SELL: jsonb_build_object and
# jsonb_object_agg cost about 0.03 s more CPU for 20,000 windows.
TRACK_SQL = """
WITH due AS (
    SELECT t.id, t.symbol, t.price, l.label,
           coalesce(t.executed_at, t.created_at) + l.secs * interval '1 second' AS t
    FROM {trades} t
    JOIN (VALUES {labels}) AS l(label, secs, due, fresh)
      ON coalesce(t.executed_at, t.created_at) BETWEEN l.fresh AND l.due
    WHERE t.side = %(side)s AND t.status = %(status)s AND t.price <> 0
      AND (t.executed_at >= %(cutoff)s OR (t.executed_at IS NULL AND t.created_at >= %(cutoff)s))
      AND NOT (t.post_exit_prices ? l.label)
), near AS MATERIALIZED (  -- the minute computed once, not in each probe's bounds
    SELECT due.*, date_trunc('minute', t + interval '30 s', 'UTC') AS minute FROM due
), fast AS (  -- the first bar met walking from the far end of [t - d, t + d] to the minute
    SELECT w.*, n.ts AS n_ts, n.close AS n_close FROM near w
    LEFT JOIN LATERAL (SELECT m."timestamp" AS ts, m.close FROM {candles} m
        WHERE m.symbol = w.symbol AND m.interval = %(interval)s
          AND m."timestamp" BETWEEN w.minute AND w.t + (w.t - w.minute)
        ORDER BY m."timestamp" DESC LIMIT 1) n ON n.ts <= w.t
    WHERE w.minute <= w.t
    UNION ALL
    SELECT w.*, n.ts, n.close FROM near w
    LEFT JOIN LATERAL (SELECT m."timestamp" AS ts, m.close FROM {candles} m
        WHERE m.symbol = w.symbol AND m.interval = %(interval)s
          AND m."timestamp" BETWEEN w.t - (w.minute - w.t) AND w.minute
        ORDER BY m."timestamp" LIMIT 1) n ON n.ts >= w.t
    WHERE w.minute > w.t
), found AS (
    SELECT w.id, w.label, w.price,
           coalesce(w.n_ts, CASE WHEN a.ts IS NULL OR w.t - b.ts <= a.ts - w.t THEN b.ts ELSE a.ts END) AS ts,
           coalesce(w.n_close,
                    CASE WHEN a.ts IS NULL OR w.t - b.ts <= a.ts - w.t THEN b.close ELSE a.close END) AS close
    FROM fast w
    LEFT JOIN LATERAL (SELECT m."timestamp" AS ts, m.close FROM {candles} m
        WHERE w.n_ts IS NULL AND m.symbol = w.symbol AND m.interval = %(interval)s
        AND m."timestamp" <= w.t AND m."timestamp" >= w.t - %(tolerance)s
        ORDER BY m."timestamp" DESC LIMIT 1) b ON true
    LEFT JOIN LATERAL (SELECT m."timestamp" AS ts, m.close FROM {candles} m
        WHERE w.n_ts IS NULL AND m.symbol = w.symbol AND m.interval = %(interval)s
        AND m."timestamp" > w.t AND m."timestamp" <= w.t + %(tolerance)s
        ORDER BY m."timestamp" LIMIT 1) a ON true
), priced AS (
    SELECT id, label, price, ts, close,
           CASE WHEN abs(q) < 1e6 AND abs(abs(q - round(q, 4)) - 0.00005) >= 1e-9
                THEN trim_scale(round(q, 4)) + 0.0 END AS change_pct
    FROM (SELECT found.*, (close - price) * 100 / price AS q FROM found) found
), sells AS (
    SELECT id, string_agg(format('"%%s": {{"price": "%%s", "change_pct": %%s, "tracked_at": "%%s"}}',
               label, trim_scale(close), change_pct, to_char(ts AT TIME ZONE 'UTC',
               CASE WHEN date_trunc('second', ts) = ts THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
                    ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END)), ', ')
               FILTER (WHERE change_pct IS NOT NULL) AS windows
    FROM priced GROUP BY id
), stored AS (
    UPDATE {trades} t
    SET post_exit_prices = ('{{' || s.windows || '}}')::jsonb || coalesce(t.post_exit_prices, '{{}}'::jsonb)
    FROM sells s WHERE t.id = s.id AND s.windows IS NOT NULL
)  -- back to Python: per label, the windows stored here and the SELLs with a due window; then
   -- the windows left to Python (misses, change_pct near a midpoint)
SELECT label, count(change_pct), (SELECT count(*) FROM sells), NULL, NULL, NULL, NULL
FROM priced GROUP BY label
UNION ALL
SELECT label, NULL, NULL, id, price, ts, close FROM priced WHERE change_pct IS NULL
"""


def store_due_windows_postgresql(
    now: datetime, retry_for: timedelta = STALE_AFTER, interval: str = "1m"
) -> tuple[Tally, int, list[tuple[int, str, Decimal, datetime | None, Decimal | None]]]:
    """Store every due window that SQL can price exactly (one statement).

    Returns (windows stored per label, SELLs with a due window, the windows left to Python as
    (trade id, label, exit price, bar timestamp, close), the last two None for a miss).
    """
    now = now.astimezone(UTC)  # the bounds are absolute instants, whatever zone `now` came in
    params = {
        "side": Side.SELL,
        "status": TradeStatus.FILLED,
        "cutoff": _oldest_exit(now, retry_for),
        "interval": interval,
        "tolerance": TOLERANCE,
    }
    labels = []
    for n, (label, offset) in enumerate(WINDOWS.items()):
        labels.append(f"(%(l{n})s, %(s{n})s::float8, %(d{n})s::timestamptz, %(f{n})s::timestamptz)")
        params |= {
            f"l{n}": label,
            f"s{n}": offset.total_seconds(),
            f"d{n}": now - offset - TOLERANCE - BAR,
            f"f{n}": now - offset - retry_for,
        }
    sql = TRACK_SQL.format(
        trades=Trade._meta.db_table, candles=Candle._meta.db_table, labels=", ".join(labels)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    stored, sells, left = Tally(), 0, []
    for label, count, trades, trade_id, price, at, close in rows:
        if trade_id is not None:
            left.append((trade_id, label, price, None if at is None else parse_timestamp(at), close))
            continue
        sells = trades  # each label's summary row carries it
        if count:
            stored[label] = count
    return stored, sells, left


# SQLite: every window's bars in one statement, the windows travelling as one JSON parameter (no
# limit on bound variables); a range join returns the (at most 11) bars in the tolerance.
BARS_SQL = (
    'SELECT w.key, m."timestamp", m.close FROM json_each(%s) w JOIN {table} m '
    "ON m.symbol = json_extract(w.value, '$[0]') AND m.interval = %s "
    "AND m.\"timestamp\" BETWEEN json_extract(w.value, '$[1]') AND json_extract(w.value, '$[2]')"
)


def fetch_bars(windows: list[Window], interval: str = "1m") -> dict[int, list[tuple[datetime, Decimal]]]:
    """{window index: [(bar timestamp, close), ...]} for all windows, in one query (SQLite)."""
    if not windows:
        return {}
    adapt = connection.ops.adapt_datetimefield_value  # SQLite compares the stored text form
    param = json.dumps(
        [[w.symbol, adapt(w.target - TOLERANCE), adapt(w.target + TOLERANCE)] for w in windows]
    )
    with connection.cursor() as cursor:
        cursor.execute(BARS_SQL.format(table=Candle._meta.db_table), [param, interval])
        rows = cursor.fetchall()
    bars: dict[int, list] = {}
    for key, at, close in rows:
        price = close if isinstance(close, Decimal) else Decimal(str(close))  # SQLite: float
        bars.setdefault(int(key), []).append((parse_timestamp(at), price))
    return bars


def merge_windows(patches: dict[int, dict]) -> None:
    """Add new windows to each trade's JSON; a window already stored wins (never overwritten)."""
    if not patches:
        return
    table = Trade._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # `new || stored`: on a duplicate key the right-hand (stored) value is kept.
            cursor.execute(
                f"UPDATE {table} t SET post_exit_prices = "  # noqa: S608
                "u.p || coalesce(t.post_exit_prices, '{}'::jsonb) "
                "FROM jsonb_to_recordset(%s::jsonb) AS u(id bigint, p jsonb) WHERE t.id = u.id",
                [json.dumps([{"id": trade_id, "p": patch} for trade_id, patch in patches.items()])],
            )
        else:
            # json_patch(new, stored): the stored members override the new ones.
            cursor.executemany(
                f"UPDATE {table} SET post_exit_prices = "  # noqa: S608
                "json_patch(%s, coalesce(post_exit_prices, '{}')) WHERE id = %s",
                [(json.dumps(patch), trade_id) for trade_id, patch in patches.items()],
            )
