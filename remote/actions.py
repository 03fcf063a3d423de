"""Control commands: a confirmation saying what would happen, then the action, at most once.

`propose` stores a Confirmation and answers with Confirm / Cancel buttons; `press` claims it with
one conditional UPDATE (pending and not expired -> running), so a double tap, a redelivered update
or a second bot process acts at most once. Nothing here knows about Telegram.
"""

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from core.formatting import krw, price, quantity
from market.candles import latest_closes
from trading.config import SYMBOL_RE
from trading.control import (
    NoPosition,
    close_position,
    kill_and_flatten,
    pause_entries,
    resume_entries,
    set_kill_switch,
)
from trading.dashboard import positions_marked
from trading.models import Position, TradingControl

from .models import Confirmation
from .replies import BadArgument, fit, signed_krw

log = logging.getLogger(__name__)
State = Confirmation.State
CONFIRM, CANCEL = "ok", "no"
COMMANDS = {"killswitch", "flatten", "close", "pause_entries", "resume"}


@dataclass
class Reply:
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, callback data)


@dataclass(frozen=True)
class Request:
    action: str  # kill_on, kill_off, flatten, close, pause, resume
    symbol: str = ""
    reason: str = ""


def parse(command: str, args: list[str]) -> Request:
    """The control command's request, or BadArgument saying what to type instead."""
    if command == "killswitch":
        switch = args[0].lower() if args else ""
        if switch not in ("on", "off"):
            raise BadArgument(
                _("Use /killswitch on [reason] or /killswitch off (got: %(got)s)") % {"got": _shown(args)}
            )
        return Request("kill_on" if switch == "on" else "kill_off", reason=" ".join(args[1:])[:150])
    if command == "close":
        symbol = args[0].upper() if len(args) == 1 else ""
        if not SYMBOL_RE.match(symbol):
            raise BadArgument(
                _("Use /close SYMBOL with one market like KRW-BTC (got: %(got)s)") % {"got": _shown(args)}
            )
        if not Position.objects.filter(symbol=symbol).exists():
            held = ", ".join(Position.objects.order_by("symbol").values_list("symbol", flat=True)) or _(
                "none"
            )
            raise BadArgument(
                _("No open position in %(symbol)s: nothing to close. Held: %(held)s.")
                % {"symbol": symbol, "held": held}
            )
        return Request("close", symbol=symbol)
    if command == "pause_entries":
        return Request("pause", reason=" ".join(args)[:150])
    if args:
        raise BadArgument(
            _("/%(name)s takes no arguments (got: %(got)s)") % {"name": command, "got": _shown(args)}
        )
    return Request("flatten" if command == "flatten" else "resume")


def _shown(args: list[str]) -> str:
    return " ".join(args)[:40] or _("nothing")


def describe(request: Request) -> str:
    """What confirming would do, like the admin's confirmation page."""
    control = TradingControl.current()
    reason = "\n" + _("Reason: %(reason)s") % {"reason": request.reason} if request.reason else ""
    if request.action == "kill_on":
        return (
            _(
                "Turn the kill switch ON?\nNo new entries until it is turned off; open positions stay and "
                "their exits (stop loss etc.) keep running."
            )
            + reason
            + ("\n" + _("(It is already on.)") if control.kill_switch else "")
        )
    if request.action == "kill_off":
        return _("Turn the kill switch off?\nNew entries are allowed again from the next cycle.") + (
            "" if control.kill_switch else "\n" + _("(It is already off.)")
        )
    if request.action == "pause":
        return (
            _(
                "Pause new entries?\nNo new entries until /resume; exits keep running; the kill switch "
                "is not touched."
            )
            + reason
        )
    if request.action == "resume":
        note = "\n" + _("The kill switch is ON: it still stops entries.") if control.kill_switch else ""
        return _("Resume new entries?\nThe operator's pause is lifted from the next cycle.") + note
    symbols = [request.symbol] if request.action == "close" else None
    if request.action == "close":
        head = _("Sell %(symbol)s at market now (exit reason MANUAL)?") % {"symbol": request.symbol}
    else:
        head = _("Turn the kill switch ON and sell every position at market now (exit reason KILL_SWITCH)?")
    return head + "\n" + would_sell(symbols)


def would_sell(symbols: list[str] | None) -> str:
    """The positions a sale at market would sell, at about what value (the latest closes)."""
    held = symbols if symbols is not None else list(Position.objects.values_list("symbol", flat=True))
    rows = positions_marked(latest_closes(held), held)
    if not rows:
        return _("Nothing is held: nothing would be sold.")
    lines = [_("Would sell (at about the latest close):")]
    for p in rows:
        lines.append(
            _("  %(symbol)s: %(quantity)s at ~%(price)s = ~%(value)s (unrealized %(pnl)s)")
            % {
                "symbol": p["symbol"],
                "quantity": quantity(p["quantity"]),
                "price": price(p["price"]),
                "value": krw(p["value"]),
                "pnl": signed_krw(p["unrealized_pnl"]),
            }
        )
    total = sum((p["value"] or Decimal(0) for p in rows), Decimal(0))
    return "\n".join([*lines, _("Total: ~%(total)s") % {"total": krw(total)}])


def propose(request: Request, *, chat_id: int, user, now: datetime) -> Reply:
    """Store the confirmation and the message asking for it."""
    seconds = settings.TELEGRAM_CONFIRM_SECONDS
    summary = fit(
        describe(request) + "\n\n" + _("Confirm within %(seconds)s s.") % {"seconds": seconds}, 3500
    )
    confirmation = Confirmation.objects.create(
        key=secrets.token_urlsafe(12),
        chat_id=chat_id,
        user=user,
        action=request.action,
        symbol=request.symbol,
        reason=request.reason,
        summary=summary,
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
    )
    key = confirmation.key
    return Reply(summary, [(_("Confirm"), f"{CONFIRM}:{key}"), (_("Cancel"), f"{CANCEL}:{key}")])


def press(data: str, *, chat_id: int, now: datetime) -> str:
    """A tap on Confirm or Cancel: the message's new text (the outcome)."""
    choice, _sep, key = data.partition(":")
    confirmation = Confirmation.objects.filter(key=key, chat_id=chat_id).first()
    if choice not in (CONFIRM, CANCEL) or confirmation is None:
        return _("This button is not known here: nothing was done.")
    pending = Confirmation.objects.filter(pk=confirmation.pk, state=State.PENDING)
    if choice == CANCEL:
        if pending.update(state=State.CANCELLED, decided_at=now):
            return _("Cancelled: nothing was done.")
    elif pending.filter(expires_at__gt=now).update(state=State.RUNNING, decided_at=now):
        return carry_out(confirmation)
    pending.filter(expires_at__lte=now).update(state=State.EXPIRED, decided_at=now)
    confirmation.refresh_from_db()
    return {
        State.EXPIRED: _("This confirmation expired: nothing was done. Send the command again."),
        State.CANCELLED: _("This was cancelled: nothing was done."),
        State.RUNNING: _("Already being carried out (another tap): nothing more is done."),
        State.DONE: _("Already done, nothing more is done:") + "\n" + confirmation.outcome,
    }.get(confirmation.state, _("Nothing was done."))


def carry_out(confirmation: Confirmation) -> str:
    """Do the claimed action; store and return its outcome (a failure is an outcome too)."""
    try:
        outcome = act(confirmation)
    except Exception as exc:  # the operator gets the reason, the log the traceback
        log.exception("telegram: %s failed", confirmation.action)
        outcome = (_("Failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"})[:500]
    outcome = fit(outcome, 3500)
    Confirmation.objects.filter(pk=confirmation.pk).update(state=State.DONE, outcome=outcome)
    return outcome


def act(confirmation: Confirmation) -> str:
    """Carry out the action; the reply in the active language (the audit reason stays English)."""
    user, action = confirmation.user, confirmation.action
    by = f"Telegram, {user.get_username()}"
    who = {"by": by, "symbol": confirmation.symbol}
    # The reason goes to the audit log and the admin (stored): not translated.
    reason = f"{confirmation.reason} ({by})" if confirmation.reason else f"from {by}"
    if action == "kill_on":
        set_kill_switch(True, reason=reason, user=user)
        return _("Kill switch ON (%(by)s): no new entries; exits keep running.") % who
    if action == "kill_off":
        set_kill_switch(False, reason=reason, user=user)
        return _("Kill switch off (%(by)s): new entries allowed from the next cycle.") % who
    if action == "pause":
        pause_entries(user=user, reason=reason)
        return _("New entries paused (%(by)s); exits keep running. /resume lifts the pause.") % who
    if action == "resume":
        resume_entries(user=user)
        return _("New entries resumed (%(by)s).") % who
    if action == "close":
        try:
            lines = close_position(confirmation.symbol, user=user)
        except NoPosition:
            return _("%(symbol)s is no longer held: nothing was sold.") % who
        return _("Close %(symbol)s (%(by)s):") % who + "\n" + "\n".join(lines)
    if action == "flatten":
        lines = kill_and_flatten(user=user, reason=f"flatten all ({by})")
        return (
            _("Kill switch ON and flatten all (%(by)s):") % who
            + "\n"
            + ("\n".join(lines) or _("nothing was held"))
        )
    raise ValueError(f"unknown action {action}")
