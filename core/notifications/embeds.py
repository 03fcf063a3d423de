"""One readable Discord embed per event (pure functions: payload in, embed dict out).

Colour says what it means: green profit/approval, red loss/failure/halt, amber warning, blue
information (a BUY), grey neutral. The footer carries the event time in KST. Payloads are
plain JSON (Decimals arrive as strings); keys a renderer does not know become extra fields, so a
caller's new key is shown instead of lost. A payload `title` or `description` overrides the
default. Every embed leaves here already cut to Discord's limits (see limits.py).
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from ..kst import KST
from . import limits

GREEN, RED, AMBER, BLUE, GREY = 0x2ECC71, 0xE74C3C, 0xF39C12, 0x3498DB, 0x95A5A6
AI_REASON_LIMIT = 500  # issue 3: an ai-reject reason is cut to 500 characters

RISK_TITLES = {  # kinds are RiskAudit violation types (trading/risk.py), any case
    "kill_switch": "Kill switch",
    "trading_halted": "Trading halted",
    "daily_loss_halt": "Daily loss limit hit: trading halted",
    "daily_loss_limit": "Daily loss limit hit",
    "cooldown_started": "Cooldown after consecutive losses",
    "cooldown": "Entry refused: cooldown",
    "reentry_cooldown": "Entry refused: re-entry cooldown (symbol sold lately)",
    "daily_trade_limit": "Daily trade limit hit",
    "max_positions": "Position limit hit",
    "max_exposure": "Exposure limit hit",
    "below_min_order": "Order below the minimum",
    "already_holding": "Already holding",
    "halt": "Trading halted",
}
RISK_RED = {"kill_switch", "trading_halted", "daily_loss_halt", "daily_loss_limit", "halt"}


def render(event: str, payload: dict, at: datetime) -> dict:
    """The embed for one event raised at `at`, within Discord's limits."""
    renderer = RENDERERS.get(event, _system)
    title, colour, description, fields, used = renderer(dict(payload))
    used |= {"title", "description"}
    fields += [(_label(key), value) for key, value in payload.items() if key not in used]
    override = payload.get("title")
    if override and str(override).lower() == str(payload.get("kind", "")).lower():
        override = None  # a raw code such as "KILL_SWITCH": the renderer's title reads better
    embed = {
        "title": override or title,
        "color": colour,
        "description": str(payload.get("description") or description or ""),
        "fields": [
            {"name": name, "value": _text(value), "inline": _short(value)}
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
        title = f"SELL {symbol} filled" + (f" · {reason}" if reason else "")
    else:
        colour, title = BLUE, f"{side or 'Trade'} {symbol} filled"
    pnl_text = None
    if pnl is not None:
        pnl_text = _krw(pnl, signed=True) + (f" ({_pct(p['pnl_pct'])})" if p.get("pnl_pct") else "")
    fields = [
        ("Price", _krw(p.get("price"))),
        ("Quantity", _number(p.get("quantity"))),
        ("Amount", _krw(p.get("amount"))),
        ("Fee", _krw(p.get("fee"))),
        ("Strategy", p.get("strategy")),
        ("Regime", p.get("regime")),
        ("Exit reason", p.get("exit_reason")),
        ("Scale-out level", p.get("scale_out_level")),
        ("Realized PnL", pnl_text),
        ("Sizing", p.get("sizing")),
    ]
    used = {"side", "symbol", "pnl", "realized_pnl", "pnl_pct", "price", "quantity", "amount", "fee"}
    used |= {"strategy", "regime", "exit_reason", "scale_out_level", "sizing"}
    return title, colour, "", fields, used


def _ai_decision(p: dict):
    decision = str(p.get("decision", "")).upper()
    colour = GREEN if decision == "APPROVED" else RED if decision == "REJECTED" else AMBER
    title = f"AI {decision.lower() or 'decision'} · BUY {p.get('symbol', '?')}"
    fields = [
        ("Confidence", p.get("confidence")),
        ("Regime", p.get("regime")),
        ("RSI", _number(p.get("rsi"))),
        ("Model", p.get("model")),
        ("Latency", f"{p['latency_ms']} ms" if p.get("latency_ms") is not None else None),
    ]
    description = limits.cut(p.get("reasoning", p.get("reason", "")), 1000)
    used = {"decision", "symbol", "confidence", "regime", "rsi", "model", "latency_ms", "reasoning", "reason"}
    return title, colour, description, fields, used


def _ai_reject(p: dict):
    title = f"AI rejected BUY {p.get('symbol', '?')}"
    fields = [("Regime", p.get("regime")), ("RSI", _number(p.get("rsi")))]
    description = limits.cut(p.get("reason", ""), AI_REASON_LIMIT)
    return title, AMBER, description, fields, {"symbol", "regime", "rsi", "reason"}


def _risk(p: dict):
    kind = str(p.get("kind", "limit")).lower()
    title = "Risk: " + RISK_TITLES.get(kind, kind.replace("_", " ").capitalize())
    if p.get("symbol"):
        title += f" · {p['symbol']}"
    colour = RED if kind in RISK_RED else AMBER
    description = p.get("reason") or p.get("message") or ""
    return title, colour, description, [], {"kind", "symbol", "reason", "message"}


def _daily_report(p: dict):
    pnl = _decimal(p.get("total_pnl", p.get("pnl")))
    colour = BLUE if pnl is None or pnl == 0 else GREEN if pnl > 0 else RED
    fields = [
        ("Realized PnL", _krw(pnl, signed=True) if pnl is not None else None),
        ("Win rate", _pct(p.get("win_rate"), signed=False)),
        ("Trades", p.get("trade_count")),
        ("Max drawdown", _pct(p.get("max_drawdown_pct"), signed=False)),
        ("Avg post-1h change", _pct(p.get("avg_post_1h_pct"))),
        ("By exit reason", p.get("by_exit_reason")),
        ("Notes", p.get("notes")),
    ]
    used = {"date", "summary", "total_pnl", "pnl", "win_rate", "trade_count", "max_drawdown_pct"}
    used |= {"avg_post_1h_pct", "by_exit_reason", "notes"}
    return f"Daily report · {p.get('date', 'today')} (KST)", colour, p.get("summary", ""), fields, used


def _weekly_exit_report(p: dict):
    suggestions = p.get("suggestions") or []
    if isinstance(suggestions, list):
        suggestions = "\n".join(f"• {_text(item)}" for item in suggestions)
    groups = p.get("groups") or []
    fields = [(_group_name(group), _group_summary(group)) for group in groups if isinstance(group, dict)]
    title = f"Weekly exit report · last {p.get('days', 7)} days"
    return title, BLUE, suggestions, fields, {"suggestions", "groups", "days"}


def _system(p: dict):
    colour = AMBER if str(p.get("level", "")).lower() == "warning" else RED
    description = p.get("detail") or p.get("message") or ""
    return "System alert", colour, description, [], {"detail", "message", "level"}


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
    return " · ".join(str(group[key]) for key in ("regime", "exit_reason") if group.get(key)) or "Group"


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


def _number(value) -> str | None:
    """Thousands separators, no float noise, trailing zeros dropped ("0.01500000" -> "0.015")."""
    number = _decimal(value)
    if number is None:
        return None if value is None else str(value)
    text = f"{number:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _krw(value, *, signed: bool = False) -> str | None:
    number = _decimal(value)
    if number is None:
        return None if value is None else str(value)
    text = f"{number.quantize(Decimal(1)) if abs(number) >= 100 else number:,f}"
    return ("+" if signed and number > 0 else "") + text + " KRW"


def _pct(value, *, signed: bool = True) -> str | None:
    number = _decimal(value)
    if number is None:
        return None if value is None else str(value)
    return f"{number:{'+' if signed else ''}.2f} %"


def _label(key: str) -> str:
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
        return "yes" if value else "no"
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
