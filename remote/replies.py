"""The read commands' answers as plain text, from the same functions the pages use.

Written in the active language (the bot activates the asking user's: remote/access.py), with
figures through core.formatting.

Each function takes `now` and returns the message; `fit` keeps it within Telegram's 4,096
characters. Nothing here knows about Telegram, so every reply is tested without it.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from agents.status import guardrail_state
from analytics.daily_report import build_daily_report, day_at, facts
from analytics.exits import load_exits
from core import system
from core.formatting import krw, number, percent, price, quantity, usd
from core.kst import kst_text
from market.candles import latest_closes
from market.models import Candle
from trading.config import load_strategy
from trading.dashboard import account_overview, positions_marked, risk_overview
from trading.models import Position, TradingControl

LIMIT = 4096  # Telegram's maximum message length
TRUNCATED = gettext_noop("\n… (cut: Telegram allows 4,096 characters; the full view is on the web pages)")
MAX_PROFIT_DAYS = 365


class BadArgument(ValueError):
    """An argument the operator must correct; the message says how."""


def fit(text: str, limit: int = LIMIT) -> str:
    """`text` within `limit` characters, cut at a line end with a note when it is longer."""
    if len(text) <= limit:
        return text
    note = _(TRUNCATED)
    room = limit - len(note)
    cut = text.rfind("\n", 0, room)
    return text[: cut if cut > 0 else room] + note


def signed_krw(value) -> str:
    """A gain or loss in whole won, "+" on gains (core.formatting's krw)."""
    return krw(value, sign=True)


def switches() -> list[str]:
    """The operator's switches, one line each, only those that are on."""
    control = TradingControl.current()
    lines = []
    if control.kill_switch:
        lines.append(
            _("KILL SWITCH ON: no new entries (%(reason)s)") % {"reason": control.reason}
            if control.reason
            else _("KILL SWITCH ON: no new entries")
        )
    if control.entries_paused:
        lines.append(_("ENTRIES PAUSED: no new entries (/resume to allow them)"))
    if control.reconcile_mismatch:
        lines.append(_("RECONCILE HOLD: %(why)s") % {"why": control.reconcile_mismatch[:200]})
    return lines


# Translators: the bot's /help. Keep the commands (/status, on|off, SYMBOL, KRW-BTC) as they are.
HELP = gettext_lazy("""CoinPilot remote control

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
/resume - allow new entries again after /pause_entries""")


def help_text() -> str:
    return str(HELP)


def _na(value) -> str:
    return _("n/a") if value in (None, "") else str(value)


def status_text(now: datetime) -> str:
    data = account_overview(now)
    held = {p["symbol"]: p for p in data["positions"]}
    lines = [
        _("Status %(at)s KST (%(mode)s)") % {"at": kst_text(now), "mode": data["mode"]},
        _("Equity %(equity)s, cash %(cash)s") % {"equity": krw(data["equity"]), "cash": krw(data["cash"])},
        _("Today: realized %(realized)s, unrealized %(unrealized)s")
        % {"realized": signed_krw(data["realized_today"]), "unrealized": signed_krw(data["unrealized"])},
        *switches(),
    ]
    if data["halted"]:
        lines.append(_("HALTED today: %(why)s") % {"why": data["halt_reason"]})
    for row in data["statuses"]:
        symbol, status = row["symbol"], row["status"] or {}
        position = held.get(symbol)
        lines.append("")
        lines.append(
            _("%(symbol)s  %(price)s  regime %(regime)s")
            % {"symbol": symbol, "price": price(status.get("price")), "regime": _na(status.get("regime"))}
        )
        lines.append(
            _("  position: %(quantity)s @ %(price)s (%(pnl)s)")
            % {
                "quantity": quantity(position["quantity"]),
                "price": price(position["avg_price"]),
                "pnl": signed_krw(position["unrealized_pnl"]),
            }
            if position
            else _("  position: none")
        )
        if status:
            age = status.get("age_s")
            last = {"action": status.get("action", "?"), "reason": status.get("reason", ""), "age": age}
            lines.append(
                _("  last: %(action)s - %(reason)s (%(age)s s ago)") % last
                if age is not None
                else _("  last: %(action)s - %(reason)s") % last
            )
        else:
            lines.append(_("  last: no cycle status (the bot has not run lately)"))
    return fit("\n".join(lines))


def positions_text(now: datetime) -> str:
    held = list(Position.objects.values_list("symbol", flat=True))
    rows = positions_marked(latest_closes(held), held)
    if not rows:
        return _("No open positions.")
    lines = [_("Open positions (%(count)s), %(at)s KST") % {"count": len(rows), "at": kst_text(now)}]
    for p in rows:
        pct = f" ({percent(p['unrealized_pct'], sign=True)})" if p["unrealized_pct"] is not None else ""
        lines += [
            "",
            _("%(symbol)s (%(regime)s) since %(at)s KST")
            % {"symbol": p["symbol"], "regime": _na(p["regime"]), "at": kst_text(p["opened_at"])},
            _("  %(quantity)s @ %(avg_price)s, now %(price)s")
            % {
                "quantity": quantity(p["quantity"]),
                "avg_price": price(p["avg_price"]),
                "price": price(p["price"]),
            },
            _("  value %(value)s, unrealized %(pnl)s")
            % {"value": krw(p["value"]), "pnl": signed_krw(p["unrealized_pnl"])}
            + pct,
        ]
    return fit("\n".join(lines))


def parse_days(args: list[str]) -> int:
    """The /profit argument: whole days from 1 to 365 (7 when none is given)."""
    if not args:
        return 7
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= MAX_PROFIT_DAYS:
        raise BadArgument(
            _("/profit takes a number of days from 1 to %(max)s, e.g. /profit 7 (got: %(got)s)")
            % {"max": MAX_PROFIT_DAYS, "got": " ".join(args)[:40]}
        )
    return int(args[0])


def profit_text(days: int, now: datetime) -> str:
    exits = load_exits(now - timedelta(days=days), now)
    known = [e for e in exits if e.pnl is not None]
    total = sum((e.pnl for e in known), Decimal(0))
    lines = [
        ngettext(
            "Realized PnL, last %(days)s day to %(at)s KST: %(pnl)s",
            "Realized PnL, last %(days)s days to %(at)s KST: %(pnl)s",
            days,
        )
        % {"days": days, "at": kst_text(now), "pnl": signed_krw(total)}
    ]
    if not exits:
        return lines[0] + "\n" + _("No sales in the period.")
    wins = sum(e.pnl > 0 for e in known)
    lines.append(
        _("Sales: %(count)s, won %(wins)s of %(known)s with known PnL")
        % {"count": len(exits), "wins": wins, "known": len(known)}
    )
    if len(known) < len(exits):
        unknown = len(exits) - len(known)
        lines.append(
            ngettext(
                "%(count)s sale without a known PnL is left out",
                "%(count)s sales without a known PnL are left out",
                unknown,
            )
            % {"count": unknown}
        )
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for exit_ in known:
        per_day[kst_text(exit_.at, "%Y-%m-%d")] += exit_.pnl
    lines += ["", _("Per KST day:")] + [f"{day}  {signed_krw(pnl)}" for day, pnl in sorted(per_day.items())]
    return fit("\n".join(lines))


def daily_text(now: datetime) -> str:
    return fit(facts(build_daily_report(day_at(now), now)))


def risk_text(now: datetime) -> str:
    data = risk_overview(now)
    lines = [
        _("Risk today (%(at)s KST), equity %(equity)s")
        % {"at": kst_text(now), "equity": krw(data["equity"])},
        *switches(),
    ]
    for row in data["usage"]:
        shown = krw if row.get("money") else _amount
        lines.append(
            _("%(label)s: %(used)s of %(limit)s (%(pct)s)")
            % {
                "label": row["label"],
                "used": shown(row["used"]),
                "limit": shown(row["limit"]),
                "pct": percent(row["pct"], 0),
            }
        )
    lines.append(_("Realized PnL today: %(pnl)s") % {"pnl": signed_krw(data["daily_pnl"])})
    cooldown = data["cooldown_until"]
    lines.append(
        _("Cooldown: until %(at)s KST") % {"at": kst_text(cooldown)} if cooldown else _("Cooldown: none")
    )
    if data["halted"]:
        lines.append(_("Halted: %(why)s") % {"why": data["halt_reason"] or _("yes")})
    else:
        lines.append(_("Halted: no"))
    volatility = data["volatility"]
    if volatility:
        lines.append(
            _("High volatility: yes") if volatility.get("high_volatility") else _("High volatility: no")
        )
    return fit("\n".join(lines))


def _amount(value) -> str:
    return number(value, 0) if isinstance(value, Decimal | int | float) else str(value)


def ai_text(now: datetime) -> str:
    state = guardrail_state(list(load_strategy().symbols), now)
    lines = [
        _("AI: %(label)s (model %(model)s)") % {"label": state["label"], "model": state["model"]},
        _("Calls this hour: %(used)s of %(cap)s") % {"used": state["usage_hour"], "cap": state["cap_hour"]},
        _("Calls today: %(used)s of %(cap)s") % {"used": state["usage_day"], "cap": state["cap_day"]},
        _("Tokens today: %(tokens_in)s in, %(tokens_out)s out")
        % {"tokens_in": number(state["tokens_in_today"]), "tokens_out": number(state["tokens_out_today"])},
        _("Cost today: %(cost)s of %(budget)s budget")
        % {"cost": usd(state["cost_today_usd"]), "budget": usd(state["budget_usd"])},
        _("Error streak: %(streak)s of %(limit)s")
        % {"streak": state["error_streak"], "limit": state["error_streak_limit"]},
    ]
    if state["global_block"]:
        minutes = round(state["global_block_seconds_left"] / 60)
        lines.append(
            _("BLOCKED: %(why)s (%(minutes)s min left)") % {"why": state["global_block"], "minutes": minutes}
        )
    for symbol, cooldown in state["cooldowns"].items():
        lines.append(
            ngettext(
                "%(symbol)s: cooldown %(minutes)s min left after %(count)s rejection",
                "%(symbol)s: cooldown %(minutes)s min left after %(count)s rejections",
                cooldown["reject_count"],
            )
            % {
                "symbol": symbol,
                "minutes": round(cooldown["seconds_left"] / 60),
                "count": cooldown["reject_count"],
            }
        )
    return fit("\n".join(lines))


def system_text(now: datetime) -> str:
    database, redis = system.check_database(), system.check_redis()
    ok = _("ok")
    lines = [
        _("System %(at)s KST") % {"at": kst_text(now)},
        _("Database: %(state)s") % {"state": database or ok},
        _("Redis: %(state)s") % {"state": redis or ok},
    ]
    if redis is None:
        scheduler = system.scheduler_status(now)
        lines.append(
            _("Scheduler: alive, beat %(age)s s ago") % {"age": scheduler["age_s"]}
            if scheduler["alive"]
            else _("Scheduler: NOT RUNNING (no recent heartbeat)")
        )
        workers = system.workers()
        lines.append(
            _("Workers: %(count)s") % {"count": len(workers)}
            + "".join(f"\n  {w['name']} {w['state']}" for w in workers)
        )
        for queue in system.queues():
            lines.append(
                _("Queue %(name)s: %(queued)s waiting, %(failed)s failed")
                % {"name": queue["name"], "queued": queue["queued"], "failed": queue["failed"]}
            )
    if database is None:
        lines.append(_("Jobs (last run, failures in 24 h):"))
        for job in system.job_health(now):
            run = job.last_run
            last = f"{run.status} {kst_text(run.started_at)}" if run else _("never ran")
            lines.append(
                _("  %(name)s: %(last)s, %(failures)s failed of %(runs)s")
                % {"name": job.name, "last": last, "failures": job.failures_24h, "runs": job.runs_24h}
            )
        lines.append(_("Data age (newest 1m bar):"))
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
        ages[symbol] = (
            _("no bars")
            if last is None
            else _("%(age)s old") % {"age": _duration((now - last).total_seconds())}
        )
    return ages


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return _("%(n)s s") % {"n": seconds}
    if seconds < 7200:
        return _("%(n)s min") % {"n": seconds // 60}
    return _("%(n)s h") % {"n": number(seconds // 3600)}


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
        raise BadArgument(
            _("/%(name)s takes no arguments (got: %(got)s)") % {"name": name, "got": " ".join(args)[:40]}
        )
    return READERS[name](now)
