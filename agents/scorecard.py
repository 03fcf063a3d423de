"""Veto scorecard: were the AI's vetoes right? Prices 1h/4h/24h after each decision, per regime.

Tracking uses the post-exit tracker's rule: the close of the 1m bar whose open is
nearest to `decision time + horizon` within +-5 minutes (ties: the earlier bar). A horizon is due
once every bar of its window has closed, and is retried until it is 24 h stale (then it stays
empty). Per run: one query for the pending decisions, one for the bars, an UPDATE per horizon.

A veto "avoided a loss" when the price was lower at the horizon, and "missed a gain" when it was
higher; the move after approvals is the baseline it should be compared with.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.db.models import Count, F, FloatField, Q, Sum
from prometheus_client import Counter

from market.candles import load_frames

from .models import AgentDecision

HORIZONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
TOLERANCE = timedelta(minutes=5)
BAR = timedelta(minutes=1)
STALE_AFTER = timedelta(hours=24)
LOOKBACK = max(HORIZONS.values()) + STALE_AFTER + TOLERANCE
FIELD = {label: f"price_{label}" for label in HORIZONS}
VERDICTS = [AgentDecision.Decision.APPROVED, AgentDecision.Decision.REJECTED]  # skips are not scored

TRACKED = Counter("coinpilot_ai_scorecard_tracked_total", "Decision prices stored", ["horizon"])
MISSED = Counter(
    "coinpilot_ai_scorecard_missed_total", "Due horizons without a bar within +-5 min", ["horizon"]
)


@dataclass(frozen=True)
class Due:
    decision_id: int
    symbol: str
    horizon: str
    target: datetime


def due_horizons(decided_at: datetime, stored: dict[str, Decimal | None], now: datetime) -> list[str]:
    """Horizons of one decision that can be looked up now and are still missing (pure)."""
    return [
        label
        for label, offset in HORIZONS.items()
        if stored.get(label) is None
        and decided_at + offset + TOLERANCE + BAR <= now <= decided_at + offset + STALE_AFTER
    ]


def nearest_close(frame: pd.DataFrame, target: datetime) -> Decimal | None:
    """Close of the bar nearest to `target` within +-5 min (ties: the earlier bar), or None."""
    if frame.empty:
        return None
    window = frame.loc[pd.Timestamp(target - TOLERANCE) : pd.Timestamp(target + TOLERANCE), "close"]
    if window.empty:
        return None
    distance = abs(window.index - pd.Timestamp(target))
    best = min(range(len(window)), key=lambda i: (distance[i], window.index[i]))
    return Decimal(str(window.iloc[best]))


def pending(now: datetime) -> list[Due]:
    """Every due, missing, fresh horizon of the recent decisions that have a price (one query)."""
    missing = Q(price_1h__isnull=True) | Q(price_4h__isnull=True) | Q(price_24h__isnull=True)
    rows = (
        AgentDecision.objects.filter(missing, decision__in=VERDICTS, created_at__gte=now - LOOKBACK)
        .exclude(price_at_decision__isnull=True)
        .values_list("id", "symbol", "created_at", "price_1h", "price_4h", "price_24h")
    )
    due = []
    for decision_id, symbol, created_at, p1, p4, p24 in rows:
        stored = {"1h": p1, "4h": p4, "24h": p24}
        for label in due_horizons(created_at, stored, now):
            due.append(Due(decision_id, symbol, label, created_at + HORIZONS[label]))
    return due


def track_prices(now: datetime) -> str:
    """Store the price at every due horizon; returns a one-line summary."""
    due = pending(now)
    if not due:
        return "0 prices tracked"
    frames = load_frames(
        sorted({d.symbol for d in due}),
        start=min(d.target for d in due) - TOLERANCE,
        end=max(d.target for d in due) + TOLERANCE + BAR,
    )
    updates: dict[int, AgentDecision] = {}
    missed = 0
    for item in due:
        price = nearest_close(frames[item.symbol], item.target)
        if price is None:
            MISSED.labels(item.horizon).inc()
            missed += 1
            continue
        row = updates.setdefault(item.decision_id, AgentDecision(pk=item.decision_id))
        setattr(row, FIELD[item.horizon], price)
        TRACKED.labels(item.horizon).inc()
    for field in FIELD.values():  # per horizon, only rows that got it: stored prices stay
        rows = [r for r in updates.values() if getattr(r, field) is not None]
        AgentDecision.objects.bulk_update(rows, [field])
    tracked = len(due) - missed
    return f"{tracked} prices tracked, {missed} missed, {len(updates)} decisions updated"


def scorecard(*, since: datetime | None = None) -> dict:
    """Per regime and horizon: vetoes that avoided a loss vs missed a gain, and average moves.

    The database counts and sums per (regime, decision) in one query (50,000 decisions would
    otherwise be walked in Python on every System page view); the ALL row adds the groups up.
    Plain built-in types (the System page renders it; `manage.py ai_scorecard` prints it).
    """
    query = AgentDecision.objects.filter(decision__in=VERDICTS, price_at_decision__gt=0)
    if since is not None:
        query = query.filter(created_at__gte=since)
    price, aggregates = F("price_at_decision"), {}
    for label, field in FIELD.items():
        later = F(field)
        aggregates |= {
            f"n_{label}": Count(field),
            f"sum_{label}": Sum((later - price) * 100 / price, output_field=FloatField()),
            f"down_{label}": Count(field, filter=Q(**{f"{field}__lt": price})),
            f"up_{label}": Count(field, filter=Q(**{f"{field}__gt": price})),
        }
    tally: dict = defaultdict(lambda: {label: {d: [0, 0.0, 0, 0] for d in VERDICTS} for label in HORIZONS})
    for row in query.values("regime", "decision").order_by().annotate(**aggregates):
        if not any(row[f"n_{label}"] for label in HORIZONS):
            continue  # nothing tracked yet in this group
        for key in (row["regime"] or "UNKNOWN", "ALL"):
            for label in HORIZONS:
                counts = tally[key][label][row["decision"]]
                counts[0] += row[f"n_{label}"]
                counts[1] += float(row[f"sum_{label}"] or 0)
                counts[2] += row[f"down_{label}"]
                counts[3] += row[f"up_{label}"]
    return {
        regime: {label: _summary(*by[label].values()) for label in HORIZONS}
        for regime, by in sorted(tally.items(), key=lambda item: (item[0] == "ALL", item[0]))
    }


def _summary(approved: list, rejected: list) -> dict:
    """approved / rejected: [count, sum of moves %, moves down, moves up]."""
    vetoes, avoided = rejected[0], rejected[2]
    return {
        "approvals": approved[0],
        "avg_move_after_approval_pct": _avg(approved),
        "vetoes": vetoes,
        "avg_move_after_veto_pct": _avg(rejected),
        "vetoes_avoided_loss": avoided,
        "vetoes_missed_gain": rejected[3],
        "veto_hit_rate_pct": round(avoided / vetoes * 100, 1) if vetoes else None,
    }


def _avg(counts: list) -> float | None:
    return round(counts[1] / counts[0], 4) if counts[0] else None
