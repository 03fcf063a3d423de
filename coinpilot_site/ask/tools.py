"""The only things the "Ask CoinPilot" model can do: read-only tools over the trading data.

Each tool is a plain function of validated arguments (see args.py) that uses ORM reads and Redis
GETs only, returns at most ASK_TOOL_ROW_LIMIT rows as JSON-ready data (Decimals as strings,
times in KST ISO) and names its sources: links to the admin rows and pages it read. No tool
reads a secret setting. The set offered to the model, with its parameters, is in registry.py.
"""

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from agents.models import AgentDecision
from analytics.daily_report import build_daily_report, day_at
from analytics.weekly_report import build_weekly_report
from market.candles import latest_closes
from market.models import RegimeHistory
from trading.config import load_risk, load_strategy, strategy_as_dict
from trading.dashboard import bot_statuses, positions_marked
from trading.glossary import EXIT_REASONS, RISK_EVENTS, legend
from trading.models import (
    Account,
    DailyRiskState,
    Position,
    RiskAudit,
    Trade,
    TradingControl,
)
from trading.risk import kst_day

from .args import Param, input_schema

REASONING_CHARS = 600


@dataclass
class ToolResult:
    data: dict
    rows: int
    sources: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: dict[str, Param]
    run: object  # (clean args, now) -> ToolResult

    def schema(self) -> dict:
        return {"name": self.name, "description": self.description, "input_schema": input_schema(self.params)}


def plain(value):
    """JSON-ready: Decimal -> string without trailing zeros, datetimes -> KST ISO, recursively."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def link(label: str, url: str, *, admin: bool = False) -> dict:
    return {"label": label, "url": url, "admin": admin}


def admin_links(rows, label, *, model: str) -> list[dict]:
    """A link to each row's admin change page (`model`: "app_model"), labelled by `label(row)`."""
    return [link(label(r), reverse(f"admin:{model}_change", args=[r.pk]), admin=True) for r in rows]


def page(name: str, **query) -> str:
    query = {k: v for k, v in query.items() if v}
    return reverse(name) + (f"?{urlencode(query)}" if query else "")


def _rows(queryset, args: dict, fields: dict) -> tuple[list, bool]:
    """The newest `limit` rows of `queryset` in the period, and whether more matched."""
    if "from" in args:
        queryset = queryset.filter(**{f"{fields['time']}__gte": args["from"]})
    if "to" in args:
        queryset = queryset.filter(**{f"{fields['time']}__lt": args["to"]})
    for name, lookup in fields.get("filters", {}).items():
        if name in args:
            queryset = queryset.filter(**{lookup: args[name]})
    rows = list(queryset.order_by(f"-{fields['time']}", "-pk")[: args["limit"] + 1])
    return rows[: args["limit"]], len(rows) > args["limit"]


def _listing(rows: list[dict], truncated: bool, args: dict, **extra) -> dict:
    shown = {k: v for k, v in args.items() if k != "limit"}
    return plain(
        {"filters": shown, "count": len(rows), "limit": args.get("limit"), "truncated": truncated}
        | extra
        | {"rows": rows}
    )


def trades(args: dict, now: datetime) -> ToolResult:
    filled_or_created = Coalesce("executed_at", "created_at")
    rows, more = _rows(
        Trade.objects.annotate(at=filled_or_created),
        args,
        {
            "time": "at",
            "filters": {n: n for n in ("symbol", "side", "status", "exit_reason", "regime")},
        },
    )
    data = [
        {
            "id": t.pk,
            "symbol": t.symbol,
            "side": t.side,
            "status": t.status,
            "price": t.price,
            "quantity": t.quantity,
            "amount_krw": t.amount.quantize(Decimal(1)),
            "fee": t.fee,
            "exit_reason": t.exit_reason,
            "regime": t.regime,
            "pnl_krw": t.signal_info.get("pnl"),
            "pnl_pct": t.signal_info.get("pnl_pct"),
            "entry_avg_price": t.signal_info.get("entry_avg_price"),
            "mode": t.mode,
            "executed_at": t.executed_at,
            "created_at": t.created_at,
            "signal_info": {k: v for k, v in t.signal_info.items() if k not in ("pnl", "pnl_pct")},
        }
        for t in rows
    ]
    history = {k: args.get(k) for k in ("symbol", "side", "exit_reason", "regime")}
    sources = [link(_("History"), page("history", **history))] + admin_links(
        rows,
        lambda t: _("Trade #%(id)s %(side)s %(symbol)s") % {"id": t.pk, "side": t.side, "symbol": t.symbol},
        model="trading_trade",
    )
    reasons = legend((t.exit_reason for t in rows), EXIT_REASONS)
    return ToolResult(_listing(data, more, args, exit_reasons=reasons), len(data), sources)


def ai_decisions(args: dict, now: datetime) -> ToolResult:
    rows, more = _rows(
        AgentDecision.objects.all(),
        args,
        {"time": "created_at", "filters": {"symbol": "symbol", "decision": "decision"}},
    )
    data = [
        {
            "id": d.pk,
            "symbol": d.symbol,
            "decision": d.decision,
            "analyst": d.analyst_decision,
            "guardian": d.guardian_decision,
            "confidence": d.confidence,
            "reasoning": d.reasoning[:REASONING_CHARS],
            "skip_reason": d.skip_reason,
            "error": d.error[:200],
            "regime": d.regime,
            "price_at_decision": d.price_at_decision,
            "price_1h_later": d.price_1h,
            "price_24h_later": d.price_24h,
            "created_at": d.created_at,
        }
        for d in rows
    ]
    sources = [link(_("System (AI scorecard)"), page("system"))] + admin_links(
        rows,
        lambda d: (
            _("AI decision #%(id)s %(symbol)s %(decision)s")
            % {"id": d.pk, "symbol": d.symbol, "decision": d.decision}
        ),
        model="agents_agentdecision",
    )
    return ToolResult(_listing(data, more, args), len(data), sources)


def risk_audits(args: dict, now: datetime) -> ToolResult:
    rows, more = _rows(
        RiskAudit.objects.all(),
        args,
        {"time": "created_at", "filters": {"symbol": "symbol", "violation_type": "violation_type"}},
    )
    data = [
        {
            "id": a.pk,
            "violation_type": a.violation_type,
            "description": a.description[:REASONING_CHARS],
            "symbol": a.symbol,
            "order": a.related_order_id,
            "created_at": a.created_at,
        }
        for a in rows
    ]
    risk_page = page("risk", type=args.get("violation_type"), symbol=args.get("symbol"))
    sources = [link(_("Risk"), risk_page)] + admin_links(
        rows,
        lambda a: _("Risk audit #%(id)s %(type)s") % {"id": a.pk, "type": a.violation_type},
        model="trading_riskaudit",
    )
    types = legend((a.violation_type for a in rows), RISK_EVENTS)
    return ToolResult(_listing(data, more, args, types=types), len(data), sources)


def regime_history(args: dict, now: datetime) -> ToolResult:
    rows, more = _rows(
        RegimeHistory.objects.all(), args, {"time": "created_at", "filters": {"symbol": "coin_symbol"}}
    )
    data = [
        {
            "symbol": r.coin_symbol,
            "regime": r.regime,
            "ma50": r.ma50,
            "ma200": r.ma200,
            "diff_pct": r.diff_pct,
            "created_at": r.created_at,
        }
        for r in rows
    ]
    symbols = sorted({r.coin_symbol for r in rows})
    sources = [link(_("Market %(symbol)s") % {"symbol": s}, page("market", symbol=s)) for s in symbols]
    return ToolResult(_listing(data, more, args), len(data), sources)


def positions_now(args: dict, now: datetime) -> ToolResult:
    symbols = sorted(Position.objects.values_list("symbol", flat=True))
    positions = positions_marked(latest_closes(symbols))
    mode = "live" if settings.COINPILOT_LIVE_TRADING else "paper"
    account = Account.objects.filter(name=mode).first()
    for row in positions:
        if row["unrealized_pct"] is not None:
            row["unrealized_pct"] = round(row["unrealized_pct"], 2)
        if row["unrealized_pnl"] is not None:
            row["unrealized_pnl"] = row["unrealized_pnl"].quantize(Decimal(1))
    data = {
        "mode": mode,
        "cash_krw": account.balance.quantize(Decimal(1)) if account else None,
        "count": len(positions),
        "positions": positions,
        "prices_are": "latest stored 1-minute close",
    }
    return ToolResult(plain(data), len(positions), [link(_("Overview"), page("overview"))])


def bot_status(args: dict, now: datetime) -> ToolResult:
    symbols = [args["symbol"]] if "symbol" in args else list(load_strategy().symbols)
    rows = bot_statuses(symbols, now)
    for row in rows:
        if row["status"] is None:
            row["status"] = "no status in the last 5 minutes (the bot cycle did not report this symbol)"
    return ToolResult(
        plain({"now": now, "symbols": rows}), len(rows), [link(_("Overview"), page("overview"))]
    )


def risk_state(args: dict, now: datetime) -> ToolResult:
    days = list(DailyRiskState.objects.order_by("-date")[:7])
    control = TradingControl.objects.filter(pk=1).first()
    data = {
        "today_kst": kst_day(now),
        "kill_switch": bool(control and control.kill_switch),
        "kill_switch_reason": control.reason if control else "",
        "days": [
            {
                "date": d.date,
                "realized_pnl_krw": d.total_pnl,
                "entries": d.trade_count,
                "consecutive_losses": d.consecutive_losses,
                "cooldown_until": d.cooldown_until,
                "halted": d.is_trading_halted,
                "halt_reason": d.halt_reason,
            }
            for d in days
        ],
    }
    return ToolResult(plain(data), len(days), [link(_("Risk"), page("risk"))])


def daily_report(args: dict, now: datetime) -> ToolResult:
    day = args["from"].astimezone(timezone.get_current_timezone()).date() if "from" in args else day_at(now)
    report = build_daily_report(day, now)
    data = {
        "report_day_kst": report.day,
        "period": {"start": report.start, "end": report.end},
        "sells": report.trade_count,
        "realized_pnl_krw": report.total_pnl.quantize(Decimal(1)),
        "win_rate_pct": report.win_rate,
        "max_drawdown_pct": report.max_drawdown_pct,
        "by_exit_reason": report.by_exit_reason,
        "exit_reasons": legend(report.by_exit_reason, EXIT_REASONS),
        "avg_change_1h_after_exit_pct": report.avg_post_1h_pct,
        "notes": report.notes,
    }
    history = page("history", side="SELL", **{"from": report.start.date().isoformat()})
    return ToolResult(plain(data), 1, [link(_("History (SELLs)"), history)])


def weekly_exit_report(args: dict, now: datetime) -> ToolResult:
    report = build_weekly_report(now, args.get("days"))
    data = {
        "period": {"start": report.start, "end": report.end, "days": report.days},
        "sells": report.sells,
        "by_regime_and_exit_reason": [asdict(row) for row in report.table],
        "exit_reasons": legend((row.exit_reason for row in report.table), EXIT_REASONS),
        "suggestions": list(report.suggestions.lines),
    }
    return ToolResult(plain(data), len(report.table), [link(_("Exit analysis"), page("exit-analysis"))])


def current_config(args: dict, now: datetime) -> ToolResult:
    limits = asdict(load_risk())
    data = {
        "trading_mode": "live" if settings.COINPILOT_LIVE_TRADING else "paper",
        "ai_second_opinion": "on" if settings.ANTHROPIC_API_KEY else "off (no key)",
        "ai_min_confidence": settings.AI_MIN_CONFIDENCE,
        "strategy": strategy_as_dict(load_strategy()),
        "risk_limits": limits,
    }
    sources = [
        link(_("Risk"), page("risk")),
        link(_("Strategy versions"), reverse("admin:trading_strategyconfig_changelist"), admin=True),
        link(_("Risk limit versions"), reverse("admin:trading_riskconfig_changelist"), admin=True),
    ]
    return ToolResult(plain(data), 1, sources)
