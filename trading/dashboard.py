"""What the dashboard shows about money and risk, as plain data (views only render it)."""

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, F, Max, Min, Q, Sum, Value, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, RowNumber, TruncHour
from django.utils import timezone
from django.utils.translation import gettext as _

from core.kst import KST
from core.redis_conn import get_redis
from market.candles import latest_closes
from market.volatility import read_state

from . import booking, risk
from .config import load_risk, load_strategy
from .cycle import STATUS_KEY
from .models import Account, DailyRiskState, Position, RiskAudit, Trade, TradingControl

MAX_CURVE_POINTS = 2000
ZERO = Decimal(0)
MONEY = DecimalField(max_digits=28, decimal_places=8)


def bot_statuses(symbols: list[str], now: datetime) -> list[dict]:
    """`bot:status:{symbol}` of every symbol (one round trip), with the age of each status."""
    raw = get_redis().mget([STATUS_KEY.format(symbol=s) for s in symbols]) if symbols else []
    rows = []
    for symbol, value in zip(symbols, raw, strict=True):
        status = json.loads(value) if value else None
        if status:
            status["age_s"] = round((now - datetime.fromisoformat(status["at"])).total_seconds())
        rows.append({"symbol": symbol, "status": status})
    return rows


def positions_marked(prices: dict[str, Decimal], symbols: list[str] | None = None) -> list[dict]:
    """Open positions (all, or those of `symbols`) with their live value and unrealized PnL (at
    the latest close)."""
    positions = Position.objects.filter(symbol__in=symbols) if symbols is not None else Position.objects
    return mark_positions(positions.order_by("symbol"), prices)


def mark_positions(positions: Iterable[Position], prices: dict[str, Decimal]) -> list[dict]:
    """`positions` with their live value and unrealized PnL at `prices` (None where no price)."""
    rows = []
    for p in positions:
        price = prices.get(p.symbol)
        pnl = p.unrealized_pnl(price) - p.entry_fee if price is not None else None
        rows.append(
            {
                "symbol": p.symbol,
                "quantity": p.quantity,
                "avg_price": p.avg_price,
                "price": price,
                "cost": p.cost,
                "value": p.quantity * price if price is not None else None,
                "unrealized_pnl": pnl,
                "unrealized_pct": pnl / p.cost * 100 if pnl is not None and p.cost else None,
                "regime": p.regime,
                "opened_at": p.opened_at,
                "high_water_mark": p.high_water_mark,
            }
        )
    return rows


def account_overview(now: datetime) -> dict:
    """Cash, positions, equity, today's realized and unrealized PnL, switches and banners."""
    strategy = load_strategy()
    held = list(Position.objects.order_by("symbol"))
    symbols = sorted(set(strategy.symbols) | {p.symbol for p in held})
    prices = latest_closes(symbols)
    positions = mark_positions(held, prices)
    mode = "live" if settings.COINPILOT_LIVE_TRADING else "paper"
    account = Account.objects.filter(name=mode).first()
    cash = account.balance if account else booking.account_for(mode).balance
    marked = sum((p["value"] or p["cost"] for p in positions), ZERO)
    today = DailyRiskState.objects.filter(date=risk.kst_day(now)).first()
    kill_switch, kill_reason = TradingControl.kill_switch_state()
    return {
        "mode": mode,
        "cash": cash,
        "equity": cash + marked,
        "positions": positions,
        "realized_today": today.total_pnl if today else ZERO,
        "trades_today": today.trade_count if today else 0,
        "unrealized": sum((p["unrealized_pnl"] or ZERO for p in positions), ZERO),
        "halted": bool(today and today.is_trading_halted),
        "halt_reason": today.halt_reason if today else "",
        "kill_switch": kill_switch,
        "kill_reason": kill_reason,
        "statuses": bot_statuses(symbols, now),
    }


def equity_curve_points(initial: Decimal) -> dict:
    """Cash-basis equity after every closed trade (initial + cumulative realized PnL), at most
    MAX_CURVE_POINTS points: long histories keep every n-th point and the last.

    The database runs the cumulative sum and the thinning (window functions), so 20,000 sells
    cost one count and one scan, and only the points drawn reach Python.
    """
    sells = Trade.objects.filter(side="SELL", status="FILLED")
    count = sells.count()
    step = max(1, count // MAX_CURVE_POINTS)
    order = [F("executed_at").asc(), F("id").asc()]
    pnl = Coalesce(Cast(KT("signal_info__pnl"), MONEY), Value(ZERO), output_field=MONEY)
    points = (
        sells.annotate(
            realized=Window(Sum(pnl), order_by=order),
            row=Window(RowNumber(), order_by=order),
        )
        .annotate(thin=(F("row") - 1) % step)
        .filter(Q(thin=0) | Q(row=count))
        .order_by("row")
        .values_list("executed_at", "realized")
    )
    kst = timezone.get_current_timezone()
    times, values = [], []
    for at, realized in points:
        times.append(at.astimezone(kst).strftime("%Y-%m-%d %H:%M:%S"))  # KST: plotly drops offsets
        values.append(float(initial + Decimal(str(realized or 0))))
    return {"t": times, "equity": values, "trades": count}


def risk_overview(now: datetime) -> dict:
    """Today's limits against usage, the loss streak, cooldown, halt and volatility state."""
    limits = load_risk()
    today = DailyRiskState.objects.filter(date=risk.kst_day(now)).first()
    positions = Position.objects.aggregate(n=Count("id"), cost=Sum(F("quantity") * F("avg_price")))
    mode = "live" if settings.COINPILOT_LIVE_TRADING else "paper"
    cash = booking.account_for(mode).balance
    exposure = positions["cost"] or ZERO
    equity = cash + exposure
    start = today.starting_equity if today and today.starting_equity else equity
    loss_limit = start * limits.max_daily_loss_pct / 100
    pnl = today.total_pnl if today else ZERO
    cooldown = today.cooldown_until if today and today.cooldown_until and today.cooldown_until > now else None
    kill_switch, kill_reason = TradingControl.kill_switch_state()
    return {
        "limits": limits,
        "equity": equity,
        "usage": [
            _usage(
                _("Exposure (KRW at cost)"),
                exposure,
                equity * limits.max_total_exposure_pct / 100,
                money=True,
            ),
            _usage(_("Open positions"), positions["n"], limits.max_concurrent_positions),
            _usage(_("Entries today"), today.trade_count if today else 0, limits.max_daily_trades),
            _usage(_("Realized loss today (KRW)"), max(-pnl, ZERO), loss_limit, money=True),
            _usage(
                _("Straight losses"), today.consecutive_losses if today else 0, limits.consecutive_loss_limit
            ),
        ],
        "daily_pnl": pnl,
        "cooldown_until": cooldown,
        "halted": bool(today and today.is_trading_halted),
        "halt_reason": today.halt_reason if today else "",
        "kill_switch": kill_switch,
        "kill_reason": kill_reason,
        "volatility": volatility_view(read_state()),
        "recent_days": DailyRiskState.objects.order_by("-date")[:14],
    }


def kill_switch_banner(data: dict) -> dict | None:
    """base.html's `kill_switch` from an overview that read the control row already (the context
    processor would read it again)."""
    return {"reason": data["kill_reason"]} if data["kill_switch"] else None


def _usage(label: str, used, limit, money: bool = False) -> dict:
    """One usage row; `money` rows are KRW amounts (whole won on the page), the others counts."""
    ratio = float(used) / float(limit) if limit else 0.0
    return {
        "label": label,
        "money": money,
        "used": used,
        "limit": limit,
        "pct": round(min(ratio, 1.0) * 100),
        "level": "bad" if ratio >= 1 else "warn" if ratio >= 0.8 else "good",
    }


MINUTES_PER_YEAR = 365 * 24 * 60  # crypto trades every minute of the year


def volatility_view(state: dict | None) -> dict | None:
    """The GARCH state as the Risk page shows it: the fit time as a datetime (shown in KST) and
    the 1-minute volatility annualised (sigma x sqrt(minutes per year)), in percent."""
    if state is None:
        return None
    return state | {
        "fitted_at": datetime.fromisoformat(state["timestamp"]),
        "annualised_pct": state["current_volatility"] * MINUTES_PER_YEAR**0.5 * 100,
    }


def audit_filters(params) -> Q:
    query = Q()
    if params.get("type"):
        query &= Q(violation_type=params["type"])
    if params.get("symbol"):
        query &= Q(symbol=params["symbol"])
    return query


AUDIT_DAYS = 7  # the Risk page's audit log; the admin has every event


def audit_window_start(now: datetime) -> datetime:
    """Where the Risk page's audit log begins: AUDIT_DAYS ago, at the start of that KST hour (an
    hour's folded row is never cut in two). Folding a year of refusals (a million rows at two a
    minute) took 5 s of database time whenever a new one arrived; a week takes about 60 ms."""
    return (now - timedelta(days=AUDIT_DAYS)).astimezone(KST).replace(minute=0, second=0, microsecond=0)


def audit_log(params, since: datetime):
    """The audit log from `since` with repeats folded: rows of the same type, symbol and
    description within one KST hour are one row with their count and first/last time (a bot
    refusing the same entry every minute wrote 300 identical rows otherwise). Newest first."""
    return (
        RiskAudit.objects.filter(audit_filters(params), created_at__gte=since)
        .annotate(hour=TruncHour("created_at", tzinfo=KST))
        .values("violation_type", "symbol", "description", "hour")
        .annotate(
            count=Count("id"),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
            order=Max("related_order_id"),
        )
        .order_by("-last_at", "violation_type", "symbol")
    )
