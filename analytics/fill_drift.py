"""Fill drift: do the paper/live fills of a KST day still match the backtest of that day?

The backtester (`trading.backtest.run_portfolio`) replays the day over the stored candles as the
live bot trades: one account, the risk rules, every symbol configured or traded that day in the
cycle's order, a market order filled at the decision bar's close (`fill_at="close"`, the live
quote), the configured backtest slippage, the volatility fits of the day, warm-up bars before
the day. Its fills are matched one to one with the day's FILLED paper/live Trade rows by
(symbol, side, minute), a live fill up to MATCH_MINUTES away from the backtest's. A matched
fill's price difference is in bps, positive when live did worse (paid more on a buy, got less
on a sale). Unmatched fills are listed with the reason when the records tell it.

What it cannot replay, and how it is handled:

- Config versions: the day is cut where a strategy or risk version became active; each part is
  replayed with its versions from the part's start, flat (a position entered in one part is
  followed to its exit under that part's versions, while live applies the new version's exit
  rules at once). Fills that differ after a change are explained as "config changed".
- The regime: the one the bot recorded (RegimeHistory, which the cycle reads) when it was one
  regime for every symbol all day; else the backtester computes it per bar, as the hourly job.
- The replay starts flat with the day's starting equity (DailyRiskState) and fresh daily risk
  counters: a position carried into the day is sold live only ("opened before the day").
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from agents.models import AgentDecision
from core import formatting
from core.kst import KST, kst_text
from core.models import JobRun
from core.notify import alert_language, notify
from core.redis_conn import get_redis
from market.models import Candle, RegimeHistory
from trading.backtest import BacktestOptions, load_bars, run_portfolio, volatility_history
from trading.config import load_risk, load_strategy
from trading.models import (
    DailyRiskState,
    ExitReason,
    RiskAudit,
    RiskConfig,
    StrategyConfig,
    Trade,
    TradeMode,
    TradeStatus,
)

from .models import FillDriftReport

log = logging.getLogger(__name__)

MATCH_MINUTES = 2  # a live cycle that ran late books its fill a minute or two after the backtest's
LOOK_BACK = timedelta(minutes=1)  # records of a decision are stamped at or just after it
LOOK_AHEAD = timedelta(minutes=MATCH_MINUTES + 1)
LIMIT_EVENTS = {"COOLDOWN_STARTED", "DAILY_LOSS_HALT", "WEEKLY_LOSS_HALT"}  # not refusals
OPERATOR_EXITS = {ExitReason.MANUAL: "operator close", ExitReason.KILL_SWITCH: "kill switch flatten"}
BPS = Decimal(10000)
PLACES = Decimal("0.01")
LIVE_ONLY, BACKTEST_ONLY = "live_only", "backtest_only"
LATEST_KEY = "fill_drift:latest"  # the newest report as the System page shows it (rebuilt from the table)
LATEST_TTL = 3600  # bounds how long a copy that missed an update (Redis down then) can be shown


@dataclass
class Fill:
    """One fill, booked (live) or replayed (backtest)."""

    symbol: str
    side: str
    at: datetime
    price: Decimal
    quantity: Decimal
    pnl: Decimal | None = None  # a sale's realised PnL after fees
    exit_reason: str = ""
    entry_at: datetime | None = None  # a sale: when its position was opened
    trade_id: int | None = None  # live only
    part: int = 0  # backtest only: the config part that replayed it

    @property
    def minute(self) -> datetime:
        return self.at.replace(second=0, microsecond=0)


@dataclass
class Part:
    """A stretch of the day with one strategy and one risk version active."""

    start: datetime
    end: datetime
    strategy_version: int
    risk_version: int


@dataclass
class Drift:
    """The comparison of one day (what FillDriftReport stores)."""

    day: date
    matched: list[dict] = field(default_factory=list)
    live_only: list[dict] = field(default_factory=list)
    backtest_only: list[dict] = field(default_factory=list)
    live_trades: int = 0
    backtest_trades: int = 0
    live_pnl: Decimal = Decimal(0)
    backtest_pnl: Decimal = Decimal(0)
    parts: list[dict] = field(default_factory=list)
    regime: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def bps(self) -> list[Decimal]:
        return [Decimal(m["bps"]) for m in self.matched]

    @property
    def mean_bps(self) -> Decimal | None:
        return _q(sum(self.bps) / len(self.bps)) if self.bps else None

    @property
    def mean_abs_bps(self) -> Decimal | None:
        return _q(sum(abs(b) for b in self.bps) / len(self.bps)) if self.bps else None

    @property
    def max_abs_bps(self) -> Decimal | None:
        return _q(max(abs(b) for b in self.bps)) if self.bps else None


class FillDriftError(ValueError):
    """The day cannot be compared (not over yet); the message says why."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00 KST, next 00:00 KST) of `day`, in UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=KST).astimezone(UTC)
    return start, start + timedelta(days=1)


def previous_kst_day(now: datetime) -> date:
    return now.astimezone(KST).date() - timedelta(days=1)


# --- what was active ------------------------------------------------------------------------


def _activations(model, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(active from, version) of the versions in force at some time in [start, end), oldest first.

    A version is active from its creation until the next one: every save activates what it
    stores (a restore stores a copy), except a Strategy lab promotion, stored inactive and linked
    from its study, which never runs as it is."""
    rows = model.objects.order_by("version")
    if model is StrategyConfig:
        rows = rows.filter(lab_studies__isnull=True) | rows.filter(is_active=True)
    timeline = [(row.created_at, row.version) for row in rows.distinct()]
    before = [item for item in timeline if item[0] <= start][-1:] or [(start, 0)]  # 0: the defaults
    during = [item for item in timeline if start < item[0] < end]
    return before + during


def config_parts(start: datetime, end: datetime) -> list[Part]:
    """The day cut where a strategy or risk version became active (version 0: the defaults)."""
    strategy, risk = _activations(StrategyConfig, start, end), _activations(RiskConfig, start, end)
    cuts = sorted({start} | {at for at, _ in strategy + risk if at > start})
    parts = []
    for i, cut in enumerate(cuts):
        s = [v for at, v in strategy if at <= cut][-1]
        r = [v for at, v in risk if at <= cut][-1]
        parts.append(Part(cut, cuts[i + 1] if i + 1 < len(cuts) else end, s, r))
    return parts


def recorded_regime(symbols: list[str], start: datetime, end: datetime) -> str | None:
    """The one regime the bot read for every symbol all day (RegimeHistory), or None."""
    seen = set()
    for symbol in symbols:
        rows = RegimeHistory.objects.filter(coin_symbol=symbol).order_by("-created_at", "-id")
        first = rows.filter(created_at__lte=start).values_list("regime", flat=True).first()
        if first is None:
            return None
        seen |= {
            first,
            *rows.filter(created_at__gt=start, created_at__lt=end).values_list("regime", flat=True),
        }
    return seen.pop() if len(seen) == 1 else None


# --- the two sides ----------------------------------------------------------------------------


def live_fills(start: datetime, end: datetime) -> list[Fill]:
    """The day's FILLED paper and live trades, in booking order."""
    rows = Trade.objects.filter(
        status=TradeStatus.FILLED,
        mode__in=[TradeMode.PAPER, TradeMode.LIVE],
        executed_at__gte=start,
        executed_at__lt=end,
    ).order_by("executed_at", "id")
    fills = []
    for t in rows:
        info = t.signal_info or {}
        opened = info.get("opened_at")
        fills.append(
            Fill(
                t.symbol, t.side, t.executed_at, t.price, t.quantity,
                Decimal(info["pnl"]) if t.side == "SELL" and info.get("pnl") is not None else None,
                t.exit_reason, datetime.fromisoformat(opened) if opened else None, t.id,
            )
        )  # fmt: skip
    return fills


def day_symbols(parts: list[Part], live: list[Fill]) -> list[str]:
    """Configured symbols in the cycle's order, then the others traded that day."""
    configured: list[str] = []
    for part in parts:
        for symbol in load_strategy(part.strategy_version or None).symbols:
            if symbol not in configured:
                configured.append(symbol)
    return configured + sorted({f.symbol for f in live} - set(configured))


def backtest_fills(drift: Drift, parts: list[Part], symbols: list[str]) -> list[Fill]:
    """Replay each part of the day; its entries and their sales within the day."""
    start, end = parts[0].start, parts[-1].end
    bars = {}
    for symbol in symbols:
        found, _ = load_bars(symbol, start, end)
        if len(found):
            bars[symbol] = found
        else:
            drift.notes.append(f"{symbol}: no candles stored for the day, not replayed")
    drift.regime = recorded_regime(list(bars), start, end) or ""
    row = DailyRiskState.objects.filter(date=drift.day).first()
    initial = row.starting_equity if row and row.starting_equity > 0 else settings.COINPILOT_PAPER_INITIAL_KRW
    fills: list[Fill] = []
    for number, part in enumerate(parts):
        drift.parts.append(
            {"from": kst_text(part.start), "strategy": part.strategy_version, "risk": part.risk_version}
        )
        if not bars:
            continue
        strategy = load_strategy(part.strategy_version or None)
        order = [s for s in strategy.symbols if s in bars] + [s for s in bars if s not in strategy.symbols]
        options = BacktestOptions(
            initial_krw=Decimal(str(initial)),
            slippage_bps=Decimal(str(settings.COINPILOT_BACKTEST_SLIPPAGE_BPS)),
            # a bar opened a minute before the part is decided, and filled, at its start
            start=int(part.start.timestamp()) - 60,
            regime=drift.regime or None,
            fill_at="close",
            volatility=volatility_history(start, end),
        )
        result = run_portfolio(
            {s: bars[s] for s in order}, strategy, load_risk(part.risk_version or None), options
        )
        for trade in result.trades:
            entry = _at(trade.entry_at)
            if not part.start <= entry < part.end:
                continue
            fills.append(Fill(trade.symbol, "BUY", entry, trade.entry_price, trade.quantity, part=number))
            for sale in trade.exits:
                if _at(sale.at) < end:
                    fills.append(
                        Fill(
                            trade.symbol, "SELL", _at(sale.at), sale.price, sale.quantity,
                            sale.pnl.quantize(Decimal("0.00000001")), sale.reason, entry, part=number,
                        )
                    )  # fmt: skip
    return sorted(fills, key=lambda f: (f.at, f.side != "SELL"))


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


# --- matching ---------------------------------------------------------------------------------


def match(backtest: list[Fill], live: list[Fill]) -> tuple[list[tuple[Fill, Fill]], list[Fill], list[Fill]]:
    """Pairs (backtest, live) of the same symbol and side at most MATCH_MINUTES apart, each fill
    used once, the nearest live fill first; then the backtest's and the live's unmatched."""
    free = list(live)
    pairs, alone = [], []
    window = timedelta(minutes=MATCH_MINUTES)
    for b in backtest:
        near = [
            f
            for f in free
            if f.symbol == b.symbol and f.side == b.side and abs(f.minute - b.minute) <= window
        ]
        if not near:
            alone.append(b)
            continue
        best = min(near, key=lambda f: (abs(f.minute - b.minute), f.at))
        free.remove(best)
        pairs.append((b, best))
    return pairs, alone, free


def drift_bps(side: str, backtest: Decimal, live: Decimal) -> Decimal:
    """Live's price against the backtest's, bps; positive = live did worse."""
    diff = live - backtest if side == "BUY" else backtest - live
    return _q(diff / backtest * BPS) if backtest else Decimal(0)


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(PLACES)


# --- reasons ------------------------------------------------------------------------------------


def _near(rows, at: datetime, field_name: str = "created_at"):
    return rows.filter(**{f"{field_name}__gte": at - LOOK_BACK, f"{field_name}__lte": at + LOOK_AHEAD})


def backtest_only_reason(f: Fill, ctx: "Evidence") -> str:
    """Why live did not make a fill the backtest made, when the records say."""
    if f.side == "SELL":
        if f.entry_at is not None and (f.symbol, f.entry_at) in ctx.unmatched_entries:
            return f"its entry at {kst_text(f.entry_at, '%H:%M')} was not taken live"
        sold = [
            x for x in ctx.live if x.symbol == f.symbol and x.side == "SELL" and x.at > (f.entry_at or f.at)
        ]
        if sold:
            return f"live sold at {kst_text(sold[0].at, '%H:%M')} ({sold[0].exit_reason or 'SELL'})"
        return ctx.config_reason(f) or "live still held the position"
    decision = _near(AgentDecision.objects.filter(symbol=f.symbol), f.at).exclude(
        decision=AgentDecision.Decision.APPROVED
    )
    row = decision.order_by("created_at").first()
    if row is not None:
        why = row.reasoning or row.skip_reason or row.error
        return f"AI veto ({row.decision}{': ' + why[:120] if why else ''})"
    audit = (
        _near(RiskAudit.objects.filter(symbol=f.symbol), f.at)
        .exclude(violation_type__in=LIMIT_EVENTS)
        .order_by("created_at")
        .first()
    )
    if audit is not None:
        return f"risk refusal ({audit.violation_type}: {audit.description[:120]})"
    failed = _near(Trade.objects.filter(symbol=f.symbol, side="BUY"), f.at, "created_at").exclude(
        status=TradeStatus.FILLED
    )
    if failed.exists():
        return f"order failed ({failed.first().status})"
    held = ctx.live_position_at(f.symbol, f.at)
    if held:
        return held
    if ctx.cycle_missed(f.at):
        return f"the bot cycle did not run at {kst_text(f.at, '%H:%M')}"
    return ctx.config_reason(f) or "not known"


def live_only_reason(f: Fill, ctx: "Evidence") -> str:
    """Why the backtest did not make a fill live made, when the records say."""
    if f.side == "SELL":
        if f.exit_reason in OPERATOR_EXITS:
            return f"operator action ({OPERATOR_EXITS[f.exit_reason]})"
        if f.entry_at is not None and f.entry_at < ctx.start:
            return "position opened before the day (the replay starts flat)"
        if (
            f.entry_at is not None
            and (f.symbol, f.entry_at.replace(microsecond=0)) in ctx.unmatched_live_entries
        ):
            return "its entry was not taken by the backtest"
    gap = ctx.missing_minutes(f.symbol, f.at)
    if gap:
        return f"data gap ({gap} of the 60 minutes before are not stored)"
    held = ctx.backtest_position_at(f.symbol, f.at)
    if held:
        return held
    return ctx.config_reason(f) or "not known"


@dataclass
class Evidence:
    """What the reasons read besides the records: both sides' fills and the day's parts."""

    start: datetime
    live: list[Fill]
    backtest: list[Fill]
    parts: list[Part]
    unmatched_entries: set = field(default_factory=set)  # backtest (symbol, entry time) not taken live
    unmatched_live_entries: set = field(default_factory=set)

    def config_reason(self, f: Fill) -> str:
        cuts = [p for p in self.parts[1:] if p.start <= f.at]
        if not cuts:
            return ""
        part = cuts[-1]
        return (
            f"config changed at {kst_text(part.start, '%H:%M')} KST "
            f"(strategy v{part.strategy_version}, risk v{part.risk_version}; "
            "the replay of that part starts flat)"
        )

    def live_position_at(self, symbol: str, at: datetime) -> str:
        """'live held ...' when live had a position in `symbol` at `at`."""
        buys = [f for f in self.live if f.symbol == symbol and f.side == "BUY" and f.at < at]
        sells = [f for f in self.live if f.symbol == symbol and f.side == "SELL" and f.at <= at]
        carried = [f for f in self.live if f.symbol == symbol and f.side == "SELL" and f.at > at]
        if carried and carried[0].entry_at is not None and carried[0].entry_at < at:
            return f"live held a position in {symbol} then (since {kst_text(carried[0].entry_at, '%H:%M')})"
        if buys and (not sells or sells[-1].at < buys[-1].at):
            return f"live held a position in {symbol} then (since {kst_text(buys[-1].at, '%H:%M')})"
        return ""

    def backtest_position_at(self, symbol: str, at: datetime) -> str:
        for f in self.backtest:
            if f.symbol == symbol and f.side == "BUY" and f.at < at:
                sales = [
                    s for s in self.backtest if s.side == "SELL" and s.entry_at == f.at and s.symbol == symbol
                ]
                closed = sales and sales[-1].at <= at and sales[-1].exit_reason != "PARTIAL_TAKE_PROFIT"
                if not closed:
                    return f"the backtest held a position in {symbol} then (since {kst_text(f.at, '%H:%M')})"
        return ""

    def missing_minutes(self, symbol: str, at: datetime) -> int:
        """Bars missing of the 60 the decision at `at` closed (a minute without trades has none
        on Upbit either, which the live bot saw the same way: only a few are a gap)."""
        minute = at.replace(second=0, microsecond=0)
        stored = Candle.objects.filter(
            symbol=symbol, interval="1m", timestamp__gte=minute - timedelta(minutes=60), timestamp__lt=minute
        ).count()
        return max(0, 60 - stored)

    def cycle_missed(self, at: datetime) -> bool:
        slot = at.replace(second=0, microsecond=0)
        runs = JobRun.objects.filter(job="bot_cycle", slot__gte=slot - LOOK_BACK, slot__lte=slot + LOOK_AHEAD)
        ran = JobRun.objects.filter(
            job="bot_cycle", slot__lt=self.start + timedelta(days=1), slot__gte=self.start
        )
        # only a bot that was scheduled that day at all can have missed a slot
        return ran.exists() and not runs.filter(status=JobRun.Status.SUCCESS).exists()


# --- the day ------------------------------------------------------------------------------------


def compare_day(day: date, now: datetime | None = None) -> Drift:
    """Replay `day` and compare it with what was booked; raises FillDriftError before its end."""
    now = now or timezone.now()
    start, end = day_bounds(day)
    if end > now:
        raise FillDriftError(f"{day} (KST) is not over yet: fill drift compares whole days before today")
    drift = Drift(day=day)
    parts = config_parts(start, end)
    live = live_fills(start, end)
    backtest = backtest_fills(drift, parts, day_symbols(parts, live))
    pairs, alone, free = match(backtest, live)
    ctx = Evidence(start, live, backtest, parts)
    ctx.unmatched_entries = {(f.symbol, f.at) for f in alone if f.side == "BUY"}
    ctx.unmatched_live_entries = {(f.symbol, f.at.replace(microsecond=0)) for f in free if f.side == "BUY"}
    for b, f in pairs:
        drift.matched.append(
            {
                "symbol": b.symbol, "side": b.side, "at": kst_text(f.at), "live_price": str(f.price),
                "backtest_price": str(b.price), "bps": str(drift_bps(b.side, b.price, f.price)),
                "live_pnl": _text(f.pnl), "backtest_pnl": _text(b.pnl), "trade_id": f.trade_id,
                "pnl_difference": _text(None if f.pnl is None or b.pnl is None else f.pnl - b.pnl),
            }
        )  # fmt: skip
    drift.backtest_only = [_row(f, backtest_only_reason(f, ctx)) for f in alone]
    drift.live_only = [_row(f, live_only_reason(f, ctx)) for f in free]
    drift.live_trades, drift.backtest_trades = len(live), len(backtest)
    drift.live_pnl = sum((f.pnl for f in live if f.pnl is not None), Decimal(0))
    drift.backtest_pnl = sum((f.pnl for f in backtest if f.pnl is not None), Decimal(0))
    return drift


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _row(f: Fill, reason: str) -> dict:
    return {
        "symbol": f.symbol, "side": f.side, "at": kst_text(f.at), "price": str(f.price),
        "exit_reason": f.exit_reason, "trade_id": f.trade_id, "reason": reason,
    }  # fmt: skip


def store(drift: Drift) -> FillDriftReport:
    """One report per day: a re-run replaces it."""
    details = {
        "matched": drift.matched, "live_only": drift.live_only, "backtest_only": drift.backtest_only,
        "parts": drift.parts, "regime": drift.regime or "computed per bar", "notes": drift.notes,
    }  # fmt: skip
    with transaction.atomic():
        report, _ = FillDriftReport.objects.update_or_create(
            day=drift.day,
            defaults={
                "live_trades": drift.live_trades,
                "backtest_trades": drift.backtest_trades,
                "matched": len(drift.matched),
                "live_only": len(drift.live_only),
                "backtest_only": len(drift.backtest_only),
                "mean_bps": drift.mean_bps,
                "mean_abs_bps": drift.mean_abs_bps,
                "max_abs_bps": drift.max_abs_bps,
                "live_pnl": drift.live_pnl,
                "backtest_pnl": drift.backtest_pnl,
                "details": details,
            },
        )
    return report


def as_summary(report: FillDriftReport) -> dict:
    """What the System page shows of a report (built-in types only)."""
    details = report.details or {}
    bps = {name: _text(getattr(report, name)) for name in ("mean_bps", "mean_abs_bps", "max_abs_bps")}
    return {
        "day": report.day.isoformat(), "live_trades": report.live_trades,
        "backtest_trades": report.backtest_trades, "matched": report.matched, "live_only": report.live_only,
        "backtest_only": report.backtest_only, **bps, "live_pnl": f"{report.live_pnl:+,.0f}",
        "backtest_pnl": f"{report.backtest_pnl:+,.0f}", "unmatched": [
            {**row, "made_by": side.replace("_", " ")}
            for side in (LIVE_ONLY, BACKTEST_ONLY) for row in details.get(side, [])
        ],
    }  # fmt: skip


def publish_latest() -> dict | None:
    """Copy the newest report's summary (or that there is none yet) to Redis; returns it."""
    report = latest_report()
    summary = as_summary(report) if report else None
    try:
        get_redis().set(LATEST_KEY, json.dumps(summary), ex=LATEST_TTL)
    except RedisError:
        log.warning("fill drift: could not publish the latest report to Redis", exc_info=True)
    return summary


def latest_summary() -> dict | None:
    """The newest report's summary: from Redis, without a query on every System page view; from
    the table (and Redis refilled) when Redis has none."""
    try:
        raw = get_redis().get(LATEST_KEY)
    except RedisError:
        raw = None
    return json.loads(raw) if raw is not None else publish_latest()


def alert_if_drifting(report: FillDriftReport) -> bool:
    """A `system` alert when the mean absolute drift passes FILL_DRIFT_ALERT_BPS; True if sent."""
    limit = Decimal(str(settings.FILL_DRIFT_ALERT_BPS))
    if report.mean_abs_bps is None or report.mean_abs_bps <= limit:
        return False
    with alert_language():
        values = {
            "bps": report.mean_abs_bps,
            "day": report.day,
            "max": report.max_abs_bps,
            "limit": limit,
            "summary": summary_text(report),
        }
        title = _("Fill drift %(bps)s bps on %(day)s") % values
        detail = (
            _(
                "Fills of %(day)s (KST) are %(bps)s bps from the backtest on average (max %(max)s, limit "
                "FILL_DRIFT_ALERT_BPS %(limit)s); %(summary)s. Details on the System page."
            )
            % values
        )
    notify("system", {"title": title, "detail": detail, "level": "warning"})
    return True


def run_fill_drift(day: date, now: datetime | None = None) -> FillDriftReport:
    """Compare, store (replacing the day's report) and alert."""
    report = store(compare_day(day, now))
    publish_latest()
    alert_if_drifting(report)
    return report


def latest_report() -> FillDriftReport | None:
    return FillDriftReport.objects.order_by("-day").first()


class FillDriftCollector:
    """The latest day's drift for `/metrics` (settings.COINPILOT_METRICS_COLLECTORS)."""

    def collect(self):
        report = latest_report()
        if report is None:
            return
        if report.mean_abs_bps is not None:
            yield GaugeMetricFamily(
                "coinpilot_fill_drift_bps",
                "Mean absolute price difference of matched fills vs the backtest, latest KST day, bps",
                value=float(report.mean_abs_bps),
            )
        unmatched = GaugeMetricFamily(
            "coinpilot_fill_drift_unmatched_trades",
            "Fills of the latest KST day without a counterpart (live_only: the backtest did not make it)",
            labels=["side"],
        )
        unmatched.add_metric([LIVE_ONLY], report.live_only)
        unmatched.add_metric([BACKTEST_ONLY], report.backtest_only)
        yield unmatched


def summary_text(report: FillDriftReport) -> str:
    """'5 matched, 1 live only, 0 backtest only, PnL +1,234 KRW vs the backtest', in the active language."""
    return _(
        "%(matched)s matched, %(live_only)s live only, %(backtest_only)s backtest only, "
        "PnL %(pnl)s vs the backtest"
    ) % {
        "matched": report.matched,
        "live_only": report.live_only,
        "backtest_only": report.backtest_only,
        "pnl": formatting.krw(report.pnl_difference, sign=True),
    }


def one_line(report: FillDriftReport) -> str:
    """'2026-12-01: 5 matched, ...; mean |drift| 3.20 bps (max 8.10)' for reports and job runs."""
    if report.mean_abs_bps is not None:
        drift = _("mean |drift| %(bps)s bps (max %(max)s)") % {
            "bps": report.mean_abs_bps,
            "max": report.max_abs_bps,
        }
    else:
        drift = _("no matched fill to price")
    return _("%(day)s (KST): %(summary)s; %(drift)s") % {
        "day": report.day,
        "summary": summary_text(report),
        "drift": drift,
    }


def render_text(report: FillDriftReport) -> str:
    """The report as the command prints it: the figures, then every unmatched fill and why."""
    details = report.details or {}
    parts = ", ".join(
        _("from %(from)s strategy %(strategy)s risk %(risk)s")
        % {"from": p["from"], "strategy": _version(p["strategy"]), "risk": _version(p["risk"])}
        for p in details.get("parts", [])
    )
    lines = [
        _("Fill drift %(line)s") % {"line": one_line(report)},
        _(
            "Fills: %(live)s booked, %(backtest)s in the backtest; PnL live %(live_pnl)s, "
            "backtest %(backtest_pnl)s"
        )
        % {
            "live": report.live_trades,
            "backtest": report.backtest_trades,
            "live_pnl": formatting.krw(report.live_pnl, sign=True),
            "backtest_pnl": formatting.krw(report.backtest_pnl, sign=True),
        },
        _("Regime: %(regime)s; config parts: %(parts)s")
        % {"regime": details.get("regime", "?"), "parts": parts},
    ]
    for side, title in ((LIVE_ONLY, _("Live only")), (BACKTEST_ONLY, _("Backtest only"))):
        for row in details.get(side, []):
            lines.append(
                f"  {title}: {row['at']} {row['side']} {row['symbol']} @ {row['price']}: {row['reason']}"
            )
    lines += [_("Note: %(note)s") % {"note": note} for note in details.get("notes", [])]
    return "\n".join(lines)


def _version(number: int) -> str:
    return f"v{number}" if number else _("defaults (no version stored yet)")
