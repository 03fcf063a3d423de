"""One readable Discord embed per event (pure functions: payload in, embed dict out).

Colour says what it means: green profit/approval, red loss/failure/halt, amber warning, blue
information (a BUY), grey neutral. The footer carries the event time in KST. Payloads are
plain JSON (Decimals arrive as strings); keys a renderer does not know become extra fields, so a
caller's new key is shown instead of lost. A payload `title` or `description` overrides the
default. Every embed leaves here already cut to Discord's limits (see limits.py).
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import formatting
from ..kst import KST
from . import limits

GREEN, RED, AMBER, BLUE, GREY = 0x2ECC71, 0xE74C3C, 0xF39C12, 0x3498DB, 0x95A5A6
AI_REASON_LIMIT = 500  # issue 3: an ai-reject reason is cut to 500 characters

RISK_TITLES = {  # kinds are RiskAudit violation types (trading/risk.py), any case
    "kill_switch": gettext_lazy("Kill switch"),
    "trading_halted": gettext_lazy("Trading halted"),
    "daily_loss_halt": gettext_lazy("Daily loss limit hit: trading halted"),
    "daily_loss_limit": gettext_lazy("Daily loss limit hit"),
    "cooldown_started": gettext_lazy("Cooldown after consecutive losses"),
    "cooldown": gettext_lazy("Entry refused: cooldown"),
    "reentry_cooldown": gettext_lazy("Entry refused: re-entry cooldown (symbol sold lately)"),
    "daily_trade_limit": gettext_lazy("Daily trade limit hit"),
    "max_positions": gettext_lazy("Position limit hit"),
    "max_exposure": gettext_lazy("Exposure limit hit"),
    "below_min_order": gettext_lazy("Order below the minimum"),
    "already_holding": gettext_lazy("Already holding"),
    "halt": gettext_lazy("Trading halted"),
    "entries_paused": gettext_lazy("New entries paused"),
    "entries_resumed": gettext_lazy("New entries resumed"),
}
RISK_RED = {"kill_switch", "trading_halted", "daily_loss_halt", "daily_loss_limit", "halt"}
# Field names of payload keys that no renderer lays out itself (other keys: the key, capitalised).
LABELS = {
    "count": gettext_lazy("Count"),
    "avg_pnl_pct": gettext_lazy("Avg pnl pct"),
    # Translators: the number of exits in one group of the weekly exit report.
    "n": gettext_lazy("N"),
    "pnl": gettext_lazy("Pnl"),
    # Translators: average holding time of a group of exits (weekly exit report).
    "hold": gettext_lazy("Hold"),
    # Translators: price change in the 24 hours after an exit (weekly exit report).
    "post_24h": gettext_lazy("Post 24h"),
    "early_exit": gettext_lazy("Early exit"),
    "over_hold": gettext_lazy("Over hold"),
    "period": gettext_lazy("Period"),
    "fill_drift": gettext_lazy("Fill drift"),
    "sells": gettext_lazy("Sells"),
    "mode": gettext_lazy("Mode"),
    "executed_at": gettext_lazy("Executed at"),
    "action": gettext_lazy("Action"),
    "slot": gettext_lazy("Slot"),
    "until": gettext_lazy("Until"),
    "total_pnl": gettext_lazy("Total pnl"),
    "liquidity_warning": gettext_lazy("Liquidity warning"),
}


def render(event: str, payload: dict, at: datetime) -> dict:
    """The embed for one event raised at `at`, within Discord's limits (in the active language)."""
    renderer = RENDERERS.get(event, _system)
    title, colour, description, fields, used = renderer(dict(payload))
    used |= {"title", "description"}
    fields += [(_label(key), _extra(key, value)) for key, value in payload.items() if key not in used]
    override = payload.get("title")
    if override and str(override).lower() == str(payload.get("kind", "")).lower():
        override = None  # a raw code such as "KILL_SWITCH": the renderer's title reads better
    embed = {
        "title": str(override or title),
        "color": colour,
        "description": str(payload.get("description") or description or ""),
        "fields": [
            {"name": str(name), "value": _text(value), "inline": _short(value)}
            for name, value in fields
            if value not in (None, "", [], {})
        ],
        "footer": {"text": f"CoinPilot · {event} · {at.astimezone(KST):%Y-%m-%d %H:%M:%S} KST"},
    }
    return limits.fit_embed(embed)


def _trade(p: dict):
    side, symbol = str(p.get("side", "")).upper(), p.get("symbol", "?")
    pnl = _decimal(p.get("pnl", p.get("realized_pnl")))
    if side == "SELL":
        colour = GREY if pnl is None or pnl == 0 else GREEN if pnl > 0 else RED
        reason = p.get("exit_reason")
        title = _("SELL %(symbol)s filled") % {"symbol": symbol} + (f" · {reason}" if reason else "")
    else:
        colour = BLUE
        if side == "BUY":
            title = _("BUY %(symbol)s filled") % {"symbol": symbol}
        elif side:
            # Translators: %(side)s is an order side code other than BUY/SELL.
            title = _("%(side)s %(symbol)s filled") % {"side": side, "symbol": symbol}
        else:
            title = _("Trade %(symbol)s filled") % {"symbol": symbol}
    pnl_text = None
    if pnl is not None:
        pnl_text = _krw(pnl, signed=True) + (f" ({_pct(p['pnl_pct'])})" if p.get("pnl_pct") else "")
    fields = [
        (_("Price"), _krw_price(p.get("price"))),
        (_("Quantity"), _quantity(p.get("quantity"))),
        (_("Amount"), _krw(p.get("amount"))),
        (_("Fee"), _krw(p.get("fee"))),
        (_("Strategy"), p.get("strategy")),
        (_("Regime"), p.get("regime")),
        (_("Exit reason"), p.get("exit_reason")),
        (_("Scale-out level"), p.get("scale_out_level")),
        (_("Realized PnL"), pnl_text),
        # Translators: how the order size was chosen (position sizing).
        (_("Sizing"), p.get("sizing")),
    ]
    used = {"side", "symbol", "pnl", "realized_pnl", "pnl_pct", "price", "quantity", "amount", "fee"}
    used |= {"strategy", "regime", "exit_reason", "scale_out_level", "sizing"}
    return title, colour, "", fields, used


def _ai_decision(p: dict):
    decision = str(p.get("decision", "")).upper()
    colour = GREEN if decision == "APPROVED" else RED if decision == "REJECTED" else AMBER
    symbol = p.get("symbol", "?")
    if decision == "APPROVED":
        title = _("AI approved · BUY %(symbol)s") % {"symbol": symbol}
    elif decision == "REJECTED":
        title = _("AI rejected · BUY %(symbol)s") % {"symbol": symbol}
    elif decision:
        # Translators: %(decision)s is a decision code such as "skipped".
        title = _("AI %(decision)s · BUY %(symbol)s") % {"decision": decision.lower(), "symbol": symbol}
    else:
        title = _("AI decision · BUY %(symbol)s") % {"symbol": symbol}
    latency = p.get("latency_ms")
    fields = [
        (_("Confidence"), p.get("confidence")),
        (_("Regime"), p.get("regime")),
        ("RSI", _number(p.get("rsi"))),
        (_("Model"), p.get("model")),
        (_("Latency"), _("%(ms)s ms") % {"ms": formatting.number(latency)} if latency is not None else None),
    ]
    description = limits.cut(p.get("reasoning", p.get("reason", "")), 1000)
    used = {"decision", "symbol", "confidence", "regime", "rsi", "model", "latency_ms", "reasoning", "reason"}
    return title, colour, description, fields, used


def _ai_reject(p: dict):
    title = _("AI rejected BUY %(symbol)s") % {"symbol": p.get("symbol", "?")}
    fields = [(_("Regime"), p.get("regime")), ("RSI", _number(p.get("rsi")))]
    description = limits.cut(p.get("reason", ""), AI_REASON_LIMIT)
    return title, AMBER, description, fields, {"symbol", "regime", "rsi", "reason"}


def _risk(p: dict):
    kind = str(p.get("kind", "limit")).lower()
    what = str(RISK_TITLES[kind]) if kind in RISK_TITLES else kind.replace("_", " ").capitalize()
    title = _("Risk: %(what)s") % {"what": what}
    if p.get("symbol"):
        title += f" · {p['symbol']}"
    colour = RED if kind in RISK_RED else AMBER
    description = p.get("reason") or p.get("message") or ""
    return title, colour, description, [], {"kind", "symbol", "reason", "message"}


def _daily_report(p: dict):
    pnl = _decimal(p.get("total_pnl", p.get("pnl")))
    colour = BLUE if pnl is None or pnl == 0 else GREEN if pnl > 0 else RED
    fields = [
        (_("Realized PnL"), _krw(pnl, signed=True) if pnl is not None else None),
        (_("Win rate"), _pct(p.get("win_rate"), signed=False)),
        (_("Trades"), p.get("trade_count")),
        (_("Max drawdown"), _pct(p.get("max_drawdown_pct"), signed=False)),
        (_("Avg post-1h change"), _pct(p.get("avg_post_1h_pct"))),
        (_("By exit reason"), p.get("by_exit_reason")),
        (_("Notes"), p.get("notes")),
    ]
    used = {"date", "summary", "total_pnl", "pnl", "win_rate", "trade_count", "max_drawdown_pct"}
    used |= {"avg_post_1h_pct", "by_exit_reason", "notes"}
    title = _("Daily report · %(date)s (KST)") % {"date": p.get("date") or _("today")}
    return title, colour, p.get("summary", ""), fields, used


def _weekly_exit_report(p: dict):
    suggestions = p.get("suggestions") or []
    if isinstance(suggestions, list):
        suggestions = "\n".join(f"• {_text(item)}" for item in suggestions)
    groups = p.get("groups") or []
    fields = [(_group_name(group), _group_summary(group)) for group in groups if isinstance(group, dict)]
    title = _("Weekly exit report · last %(days)s days") % {"days": p.get("days", 7)}
    return title, BLUE, suggestions, fields, {"suggestions", "groups", "days"}


def _system(p: dict):
    colour = AMBER if str(p.get("level", "")).lower() == "warning" else RED
    description = p.get("detail") or p.get("message") or ""
    return _("System alert"), colour, description, [], {"detail", "message", "level"}


RENDERERS = {
    "trade": _trade,
    "ai-decision": _ai_decision,
    "ai-reject": _ai_reject,
    "risk": _risk,
    "daily-report": _daily_report,
    "weekly-exit-report": _weekly_exit_report,
    "system": _system,
}


def _group_name(group: dict) -> str:
    names = [str(group[key]) for key in ("regime", "exit_reason") if group.get(key)]
    return " · ".join(names) or _("Group")


def _group_summary(group: dict) -> str:
    skip = {"regime", "exit_reason"}
    return ", ".join(f"{_label(k)} {_text(v)}" for k, v in group.items() if k not in skip)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _shown(formatter, value, *args, **kwargs) -> str | None:
    """`formatter(value)` for a number; None stays None, text that is no number is shown as is."""
    if _decimal(value) is None:
        return None if value is None else str(value)
    return formatter(value, *args, **kwargs)


def _number(value) -> str | None:
    """Thousands separators, no float noise, trailing zeros dropped ("0.01500000" -> "0.015")."""
    return _shown(formatting.number, value)


def _quantity(value) -> str | None:
    return _shown(formatting.quantity, value)


def _krw(value, *, signed: bool = False) -> str | None:
    """Whole won with the unit of the language ("2,916 KRW" / "2,916원")."""
    return _shown(formatting.krw, value, signed)


def _krw_price(value) -> str | None:
    """A fill price: whole won with the unit, or the decimals a cheap coin's tick needs."""
    number = _decimal(value)
    if number is not None and abs(number) < 100:
        # The unit as formatting.krw writes it (same message), on the decimals of a cheap coin.
        return _("{amount} KRW").format(amount=formatting.price(number))
    return _krw(value)


def _pct(value, *, signed: bool = True) -> str | None:
    return _shown(formatting.percent, value, 2, signed)


MONEY_KEYS = {"total_pnl", "pnl", "realized_pnl", "amount", "equity", "cash"}  # KRW amounts among extra keys


def _extra(key: str, value):
    """An extra payload value as shown: KRW amounts formatted, anything else as it is."""
    return _krw(value, signed=key.endswith("pnl")) if key in MONEY_KEYS else value


def _label(key: str) -> str:
    if key in LABELS:
        return str(LABELS[key])
    return str(key).replace("_", " ").replace("-", " ").capitalize()


def _text(value) -> str:
    """Any JSON value as readable text: dicts and lists become one line per entry."""
    if isinstance(value, dict):
        return "\n".join(
            f"{_label(k)}: {_group_summary(v) if isinstance(v, dict) else _text(v)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return "\n".join(_group_summary(item) if isinstance(item, dict) else _text(item) for item in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return _kst(value) if isinstance(value, str) else str(value)


def _kst(text: str) -> str:
    """An ISO timestamp with a zone (how payloads carry datetimes) shown in KST; other text as is."""
    if len(text) < 19 or text[4:5] != "-" or text[10:11] not in "T ":
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{moment.astimezone(KST):%Y-%m-%d %H:%M:%S} KST" if moment.tzinfo else text


def _short(value) -> bool:
    return not isinstance(value, dict | list) and len(str(value)) <= 40
