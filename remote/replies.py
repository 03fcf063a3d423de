"""The read commands' answers as plain text, from the same functions the pages use.

Each function takes `now` and returns the message; `fit` keeps it within Telegram's 4,096
characters. Nothing here knows about Telegram, so every reply is tested without it.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Max

from agents.status import guardrail_state
from analytics.daily_report import build_daily_report, day_at, facts
from analytics.exits import load_exits
from core import system
from core.kst import kst_text
from market.candles import latest_closes
from market.models import Candle
from trading.config import load_strategy
from trading.dashboard import account_overview, positions_marked, risk_overview
from trading.models import Position, TradingControl

LIMIT = 4096  # Telegram's maximum message length
TRUNCATED = "\n… (cut: Telegram allows 4,096 characters; the full view is on the web pages)"
MAX_PROFIT_DAYS = 365


class BadArgument(ValueError):
    """An argument the operator must correct; the message says how."""


def fit(text: str, limit: int = LIMIT) -> str:
    """`text` within `limit` characters, cut at a line end with a note when it is longer."""
    if len(text) <= limit:
        return text
    room = limit - len(TRUNCATED)
    cut = text.rfind("\n", 0, room)
    return text[: cut if cut > 0 else room] + TRUNCATED


def krw(value) -> str:
    return "n/a" if value is None else f"{Decimal(value):,.0f} KRW"


def signed_krw(value) -> str:
    return "n/a" if value is None else f"{Decimal(value):+,.0f} KRW"


def price(value) -> str:
    if value is None:
        return "n/a"
    value = Decimal(str(value))
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4f}".rstrip("0").rstrip(".")


def switches() -> list[str]:
    """The operator's switches, one line each, only those that are on."""
    control = TradingControl.current()
    lines = []
    if control.kill_switch:
        lines.append("KILL SWITCH ON: no new entries" + (f" ({control.reason})" if control.reason else ""))
    if control.entries_paused:
        lines.append("ENTRIES PAUSED: no new entries (/resume to allow them)")
    if control.reconcile_mismatch:
        lines.append(f"RECONCILE HOLD: {control.reconcile_mismatch[:200]}")
    return lines


HELP = """CoinPilot remote control

Read:
/status - per symbol: price, regime, position, last action and why
/positions - open positions with value and unrealized PnL
/profit [days] - realized PnL of the last days (default 7)
/daily - today's report so far (KST day ending 22:00)
/risk - today's limits against usage, cooldown, halts
/ai - AI usage against caps, blocks, cooldowns
/system - jobs, workers, queues, data age

Control (each asks Confirm / Cancel, valid 60 s):
/killswitch on|off [reason] - stop or allow new entries (exits keep running)
/flatten - kill switch on and sell every position at market
/close SYMBOL - sell one position at market, e.g. /close KRW-BTC
/pause_entries [reason] - pause new entries without the kill switch
/resume - allow new entries again after /pause_entries"""


def help_text() -> str:
    return HELP


def status_text(now: datetime) -> str:
    data = account_overview(now)
    held = {p["symbol"]: p for p in data["positions"]}
    lines = [
        f"Status {kst_text(now)} KST ({data['mode']})",
        f"Equity {krw(data['equity'])}, cash {krw(data['cash'])}",
        f"Today: realized {signed_krw(data['realized_today'])}, unrealized {signed_krw(data['unrealized'])}",
        *switches(),
    ]
    if data["halted"]:
        lines.append(f"HALTED today: {data['halt_reason']}")
    for row in data["statuses"]:
        symbol, status = row["symbol"], row["status"] or {}
        position = held.get(symbol)
        lines.append("")
        lines.append(f"{symbol}  {price(status.get('price'))}  regime {status.get('regime') or 'n/a'}")
        lines.append(
            f"  position: {position['quantity']} @ {price(position['avg_price'])} "
            f"({signed_krw(position['unrealized_pnl'])})"
            if position
            else "  position: none"
        )
        if status:
            age = status.get("age_s")
            lines.append(
                f"  last: {status.get('action', '?')} - {status.get('reason', '')}"
                + (f" ({age} s ago)" if age is not None else "")
            )
        else:
            lines.append("  last: no cycle status (the bot has not run lately)")
    return fit("\n".join(lines))


def positions_text(now: datetime) -> str:
    held = list(Position.objects.values_list("symbol", flat=True))
    rows = positions_marked(latest_closes(held), held)
    if not rows:
        return "No open positions."
    lines = [f"Open positions ({len(rows)}), {kst_text(now)} KST"]
    for p in rows:
        pct = f" ({p['unrealized_pct']:+.2f} %)" if p["unrealized_pct"] is not None else ""
        lines += [
            "",
            f"{p['symbol']} ({p['regime'] or 'n/a'}) since {kst_text(p['opened_at'])} KST",
            f"  {p['quantity']} @ {price(p['avg_price'])}, now {price(p['price'])}",
            f"  value {krw(p['value'])}, unrealized {signed_krw(p['unrealized_pnl'])}{pct}",
        ]
    return fit("\n".join(lines))


def parse_days(args: list[str]) -> int:
    """The /profit argument: whole days from 1 to 365 (7 when none is given)."""
    if not args:
        return 7
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= MAX_PROFIT_DAYS:
        raise BadArgument(
            f"/profit takes a number of days from 1 to {MAX_PROFIT_DAYS}, e.g. /profit 7 "
            f"(got: {' '.join(args)[:40]})"
        )
    return int(args[0])


def profit_text(days: int, now: datetime) -> str:
    exits = load_exits(now - timedelta(days=days), now)
    known = [e for e in exits if e.pnl is not None]
    total = sum((e.pnl for e in known), Decimal(0))
    lines = [f"Realized PnL, last {days} day(s) to {kst_text(now)} KST: {signed_krw(total)}"]
    if not exits:
        return lines[0] + "\nNo sales in the period."
    wins = sum(e.pnl > 0 for e in known)
    lines.append(f"Sales: {len(exits)}, won {wins} of {len(known)} with known PnL")
    if len(known) < len(exits):
        lines.append(f"{len(exits) - len(known)} sale(s) without a known PnL are left out")
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for exit_ in known:
        per_day[kst_text(exit_.at, "%Y-%m-%d")] += exit_.pnl
    lines += ["", "Per KST day:"] + [f"{day}  {signed_krw(pnl)}" for day, pnl in sorted(per_day.items())]
    return fit("\n".join(lines))


def daily_text(now: datetime) -> str:
    return fit(facts(build_daily_report(day_at(now), now)))


def risk_text(now: datetime) -> str:
    data = risk_overview(now)
    lines = [f"Risk today ({kst_text(now)} KST), equity {krw(data['equity'])}", *switches()]
    for row in data["usage"]:
        lines.append(f"{row['label']}: {_amount(row['used'])} of {_amount(row['limit'])} ({row['pct']} %)")
    lines.append(f"Realized PnL today: {signed_krw(data['daily_pnl'])}")
    cooldown = data["cooldown_until"]
    lines.append(f"Cooldown: until {kst_text(cooldown)} KST" if cooldown else "Cooldown: none")
    lines.append(f"Halted: {data['halt_reason'] or 'yes'}" if data["halted"] else "Halted: no")
    volatility = data["volatility"]
    if volatility:
        lines.append(f"High volatility: {'yes' if volatility.get('high_volatility') else 'no'}")
    return fit("\n".join(lines))


def _amount(value) -> str:
    return f"{value:,.0f}" if isinstance(value, Decimal) else str(value)


def ai_text(now: datetime) -> str:
    state = guardrail_state(list(load_strategy().symbols), now)
    lines = [
        f"AI: {state['label']} (model {state['model']})",
        f"Calls this hour: {state['usage_hour']} of {state['cap_hour']}",
        f"Calls today: {state['usage_day']} of {state['cap_day']}",
        f"Tokens today: {state['tokens_in_today']:,} in, {state['tokens_out_today']:,} out",
        f"Cost today: {state['cost_today_usd']} USD of {state['budget_usd']} USD budget",
        f"Error streak: {state['error_streak']} of {state['error_streak_limit']}",
    ]
    if state["global_block"]:
        minutes = round(state["global_block_seconds_left"] / 60)
        lines.append(f"BLOCKED: {state['global_block']} ({minutes} min left)")
    for symbol, cooldown in state["cooldowns"].items():
        lines.append(
            f"{symbol}: cooldown {round(cooldown['seconds_left'] / 60)} min left "
            f"after {cooldown['reject_count']} rejection(s)"
        )
    return fit("\n".join(lines))


def system_text(now: datetime) -> str:
    database, redis = system.check_database(), system.check_redis()
    lines = [f"System {kst_text(now)} KST", f"Database: {database or 'ok'}", f"Redis: {redis or 'ok'}"]
    if redis is None:
        scheduler = system.scheduler_status(now)
        lines.append(
            f"Scheduler: alive, beat {scheduler['age_s']} s ago"
            if scheduler["alive"]
            else "Scheduler: NOT RUNNING (no recent heartbeat)"
        )
        workers = system.workers()
        lines.append(f"Workers: {len(workers)}" + "".join(f"\n  {w['name']} {w['state']}" for w in workers))
        for queue in system.queues():
            lines.append(f"Queue {queue['name']}: {queue['queued']} waiting, {queue['failed']} failed")
    if database is None:
        lines.append("Jobs (last run, failures in 24 h):")
        for job in system.job_health(now):
            run = job.last_run
            last = f"{run.status} {kst_text(run.started_at)}" if run else "never ran"
            lines.append(f"  {job.name}: {last}, {job.failures_24h} failed of {job.runs_24h}")
        lines.append("Data age (newest 1m bar):")
        lines += [f"  {symbol}: {age}" for symbol, age in data_ages(now).items()]
    return fit("\n".join(lines))


def data_ages(now: datetime) -> dict[str, str]:
    """How old the newest stored minute bar of each traded or held symbol is."""
    symbols = sorted(set(load_strategy().symbols) | set(Position.objects.values_list("symbol", flat=True)))
    newest = dict(
        Candle.objects.filter(symbol__in=symbols, interval="1m")
        .values("symbol")
        .annotate(last=Max("timestamp"))
        .values_list("symbol", "last")
    )
    ages = {}
    for symbol in symbols:
        last = newest.get(symbol)
        ages[symbol] = "no bars" if last is None else f"{_duration((now - last).total_seconds())} old"
    return ages


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


READERS = {
    "status": status_text,
    "positions": positions_text,
    "daily": daily_text,
    "risk": risk_text,
    "ai": ai_text,
    "system": system_text,
}


def read_command(name: str, args: list[str], now: datetime) -> str:
    """The answer to a read command (raises BadArgument for an argument to correct)."""
    if name == "help":
        return help_text()
    if name == "profit":
        return profit_text(parse_days(args), now)
    if args:
        raise BadArgument(f"/{name} takes no arguments (got: {' '.join(args)[:40]})")
    return READERS[name](now)
