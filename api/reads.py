"""What the read endpoints answer, as plain data built from the functions the pages use.

Each function returns built-in types only (money as exact decimal strings, times as ISO 8601 in
UTC plus KST), so it can be tested without a request and rendered by any schema.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from agents.status import guardrail_state
from core import system
from core.models import JobRun
from market.candles import latest_closes
from market.listing import format_error, normalise
from market.models import Regime, RegimeHistory
from market.regime import current_regimes
from trading.config import load_strategy
from trading.dashboard import account_overview, positions_marked
from trading.models import DailyRiskState, ExitReason, Position, Side, Trade, TradingControl
from trading.risk import kst_day
from trading.views import history_filter, traded_symbols

from .errors import BadRequest
from .present import money, times

MAX_PAGE = 200  # rows per page of trades, regime history
MAX_DAYS = 366  # days one daily-PnL answer may span
FAILED = (JobRun.Status.FAILURE, JobRun.Status.TIMEOUT, JobRun.Status.LOST)
ZERO = Decimal(0)


def kill_switch() -> dict:
    control = TradingControl.current()
    return {
        "on": control.kill_switch,
        "reason": control.reason,
        "entries_paused": control.entries_paused,
        "changed_by": control.changed_by.get_username() if control.changed_by else None,
        **times("changed_at", control.changed_at),
    }


def position_row(p: dict) -> dict:
    """A row of trading.dashboard.positions_marked, money as text."""
    return {
        "symbol": p["symbol"],
        "quantity": money(p["quantity"]),
        "avg_price": money(p["avg_price"]),
        "price": money(p["price"]),
        "cost": money(p["cost"]),
        "value": money(p["value"]),
        "unrealized_pnl": money(p["unrealized_pnl"]),
        "unrealized_pct": money(p["unrealized_pct"].quantize(Decimal("0.01")))
        if p["unrealized_pct"] is not None
        else None,
        "regime": p["regime"],
        "high_water_mark": money(p["high_water_mark"]),
        **times("opened_at", p["opened_at"]),
    }


def status(now: datetime) -> dict:
    """Per symbol what the Overview shows (price, regime, position, last action and reason), the
    kill switch and today's halt."""
    data = account_overview(now)
    held = {p["symbol"]: position_row(p) for p in data["positions"]}
    symbols = []
    for row in data["statuses"]:
        s = row["status"] or {}
        at = datetime.fromisoformat(s["at"]) if s.get("at") else None
        symbols.append(
            {
                "symbol": row["symbol"],
                "price": money(s.get("price")),
                "regime": s.get("regime"),
                "position": held.get(row["symbol"]),
                "last_action": s.get("action"),
                "last_reason": s.get("reason"),
                "last_detail": s.get("detail", ""),
                **times("last_at", at),
                "age_s": s.get("age_s"),
            }
        )
    return {
        "mode": data["mode"],
        "kill_switch": kill_switch(),
        "halted": data["halted"],
        "halt_reason": data["halt_reason"],
        "symbols": symbols,
        **times("at", now),
    }


def positions() -> list[dict]:
    symbols = list(Position.objects.values_list("symbol", flat=True))
    return [position_row(p) for p in positions_marked(latest_closes(symbols))]


def known_symbols() -> set[str]:
    """Symbols the API answers about: the strategy's, held ones and every one ever traded."""
    held = Position.objects.values_list("symbol", flat=True)
    return set(load_strategy().symbols) | set(held) | set(traded_symbols())


def checked_symbol(value: str | None) -> str | None:
    """The symbol normalised (`krw-btc` -> `KRW-BTC`), or BadRequest naming what is wrong."""
    if value is None or not value.strip():
        return None
    symbol = normalise(value)
    problem = format_error(symbol)
    if problem is None and symbol not in known_symbols():
        problem = f"{symbol} is not traded by CoinPilot (not in the strategy, held or ever traded)"
    if problem:
        raise BadRequest({"symbol": problem})
    return symbol


def trades(params: dict, *, limit: int, offset: int) -> dict:
    """A page of the History page's query (same filters), newest first."""
    params = {name: value.strip() for name, value in params.items() if value is not None and value.strip()}
    if "symbol" in params:
        params["symbol"] = checked_symbol(params["symbol"])
    query, shown = history_filter(params)
    choices = {"side": Side.values, "exit_reason": ExitReason.values, "regime": Regime.values}
    problems = {
        name: f"'{params[name]}' is not one of {', '.join(allowed)}"
        for name, allowed in choices.items()
        if name in params and name not in shown
    }
    for name in ("from", "to"):
        if f"{name}_error" in shown:
            problems[name] = shown[f"{name}_error"] + ", a KST day"
    if not problems and "from" in shown and "to" in shown and shown["from"] > shown["to"]:
        problems["from"] = f"{shown['from']} is after to ({shown['to']})"
    if problems:
        raise BadRequest(problems)
    rows = Trade.objects.filter(query).order_by("-created_at", "-id")
    count = rows.count()
    items = [trade_row(t) for t in rows[offset : offset + limit]]
    return {
        "count": count,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < count else None,
        "filters": {k: v for k, v in shown.items() if not k.endswith("_error")},
        "items": items,
    }


def trade_row(t: Trade) -> dict:
    info = t.signal_info or {}
    return {
        "id": t.id,
        "symbol": t.symbol,
        "side": t.side,
        "status": t.status,
        "price": money(t.price),
        "quantity": money(t.quantity),
        "amount": money(t.amount),
        "fee": money(t.fee),
        "pnl": money(info.get("pnl")),
        "pnl_pct": money(info.get("pnl_pct")),
        "exit_reason": t.exit_reason,
        "regime": t.regime,
        "mode": t.mode,
        "strategy_name": t.strategy_name,
        "client_order_id": t.client_order_id,
        **times("created_at", t.created_at),
        **times("executed_at", t.executed_at),
    }


def day_range(start: str | None, end: str | None, now: datetime) -> tuple[date, date]:
    """KST days `start`..`end` (default: the last 30 days to today), at most MAX_DAYS."""
    problems, days = {}, {}
    for name, value, default in (("to", end, kst_day(now)), ("from", start, None)):
        try:
            days[name] = date.fromisoformat(value.strip()) if value and value.strip() else default
        except ValueError:
            problems[name] = f"'{value}' is not a date (YYYY-MM-DD, a KST day)"
    if problems:
        raise BadRequest(problems)
    first = days["from"] or days["to"] - timedelta(days=29)
    if first > days["to"]:
        raise BadRequest({"from": f"{first} is after to ({days['to']})"})
    if (days["to"] - first).days + 1 > MAX_DAYS:
        raise BadRequest({"from": f"at most {MAX_DAYS} days at once ({first} to {days['to']} is longer)"})
    return first, days["to"]


def daily_pnl(start: str | None, end: str | None, now: datetime) -> dict:
    """The risk manager's day rows (the Risk page's recent days), oldest first, with the total."""
    first, last = day_range(start, end, now)
    rows = DailyRiskState.objects.filter(date__gte=first, date__lte=last).order_by("date")
    days = [
        {
            "date": row.date.isoformat(),
            "realized_pnl": money(row.total_pnl),
            "trades": row.trade_count,
            "starting_equity": money(row.starting_equity),
            "consecutive_losses": row.consecutive_losses,
            "halted": row.is_trading_halted,
            "halt_reason": row.halt_reason,
        }
        for row in rows
    ]
    total = sum((row.total_pnl for row in rows), ZERO)
    return {"from": first.isoformat(), "to": last.isoformat(), "total": money(total), "days": days}


def regimes(symbol: str | None, limit: int) -> dict:
    """The regime the bot uses now per symbol, and the evaluations newest first (System page)."""
    chosen = checked_symbol(symbol)
    current = current_regimes([chosen] if chosen else list(load_strategy().symbols))
    history = RegimeHistory.objects.order_by("-created_at", "-id")
    if chosen:
        history = history.filter(coin_symbol=chosen)
    return {
        "current": [{"symbol": s, "regime": r} for s, r in current.items()],
        "history": [
            {
                "symbol": row.coin_symbol,
                "regime": row.regime,
                "ma50": money(row.ma50),
                "ma200": money(row.ma200),
                "diff_pct": money(row.diff_pct),
                **times("created_at", row.created_at),
            }
            for row in history[:limit]
        ],
    }


def job_run(run: JobRun | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "job": run.job,
        "status": run.status,
        **times("slot", run.slot),
        **times("started_at", run.started_at),
        **times("finished_at", run.finished_at),
        "duration_ms": run.duration_ms,
        "message": run.message[:1000],
    }


def jobs(now: datetime, failures: int) -> dict:
    """The System page's job table (latest run per job, 24 h counts) and the latest failures."""
    return {
        "jobs": [
            {
                "name": job.name,
                "cron": job.cron,
                "tz": job.tz,
                "queue": job.queue,
                "description": str(job.description),  # a lazy translation: written in the caller's language
                **times("next_slot", job.next_slot),
                "runs_24h": job.runs_24h,
                "failures_24h": job.failures_24h,
                "last_run": job_run(job.last_run),
            }
            for job in system.job_health(now)
        ],
        "failures": [
            job_run(run) for run in JobRun.objects.filter(status__in=FAILED).order_by("-id")[:failures]
        ],
    }


def metrics(now: datetime) -> dict:
    """The Overview's money (equity, cash, exposure, today's PnL) and the System page's AI usage."""
    data = account_overview(now)
    exposure_cost = sum((p["cost"] for p in data["positions"]), ZERO)
    exposure_value = sum(
        (p["value"] if p["value"] is not None else p["cost"] for p in data["positions"]), ZERO
    )
    ai = guardrail_state(list(load_strategy().symbols), now)
    return {
        "mode": data["mode"],
        "equity": money(data["equity"]),
        "cash": money(data["cash"]),
        "exposure_cost": money(exposure_cost),
        "exposure_value": money(exposure_value),
        "positions": len(data["positions"]),
        "realized_today": money(data["realized_today"]),
        "unrealized": money(data["unrealized"]),
        "trades_today": data["trades_today"],
        "kst_day": kst_day(now).isoformat(),
        "ai": {
            "enabled": ai["enabled"],
            "label": ai["label"],
            "model": ai["model"],
            "runs_hour": ai["usage_hour"],
            "cap_hour": ai["cap_hour"],
            "runs_day": ai["usage_day"],
            "cap_day": ai["cap_day"],
            "tokens_in_today": ai["tokens_in_today"],
            "tokens_out_today": ai["tokens_out_today"],
            "cost_today_usd": ai["cost_today_usd"],
            "budget_usd": ai["budget_usd"],
            "global_block": ai["global_block"],
            "cooldowns": sorted(ai["cooldowns"]),
        },
        **times("at", now),
    }
