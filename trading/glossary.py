"""One-line meanings of the codes CoinPilot records: exit reasons and risk audit types.

The pages (tooltips), the reports and the Ask CoinPilot tools read them from here, so a code
added to trading/models.py (ExitReason) or trading/risk.py (a Block) is explained the same way
everywhere; the tests fail when a code has no meaning here. Meanings hold no digits, in any
language: Ask CoinPilot's grounding check takes every number of a tool result as a known figure.

The meanings are marked with gettext_lazy and read in the active language: a lookup returns plain
text (str), so reports, JSON tool results and `in` checks work as before.
"""

from collections.abc import Iterable, Iterator, Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .models import ExitReason


class Meanings(Mapping[str, str]):
    """{code: meaning}, each meaning translated when it is read (not at import time)."""

    def __init__(self, meanings: dict[str, Promise]) -> None:
        self._meanings = meanings

    def __getitem__(self, code: str) -> str:
        return str(self._meanings[code])

    def __iter__(self) -> Iterator[str]:
        return iter(self._meanings)

    def __len__(self) -> int:
        return len(self._meanings)


PARTIAL = ExitReason.PARTIAL_TAKE_PROFIT.value

EXIT_REASONS: Mapping[str, str] = Meanings(
    {
        "STOP_LOSS": _(
            "the price fell to the stop loss: a percentage or ATR distance below the entry price (the entry "
            "price itself after a scale-out when break-even is on)"
        ),
        "TRAILING_STOP": _("once in profit, the price fell the trailing distance below its high since entry"),
        "TAKE_PROFIT": _(
            "the price reached the take-profit level: all that was left of the position was sold"
        ),
        "RSI_OVERBOUGHT": _(
            "the RSI (fourteen bars) reached the overbought level with at least the minimum profit"
        ),
        "TIME_LIMIT": _("the position was held longer than the regime's time limit"),
        PARTIAL: _(
            "scale-out: one of up to three profit levels was reached and a share of the entry quantity "
            "was sold; the rest of the position stays open"
        ),
        "MANUAL": _(
            "closed by an operator (admin: Close at market), or a live sale booked without its reason"
        ),
        "KILL_SWITCH": _("closed by the operator's kill switch with every position sold (admin)"),
    }
)

# Entry refusals (the risk manager said no to a buy) and limit events (recorded after a sale or
# by the live books' reconciliation). Order: as the risk manager checks them, then the events.
RISK_EVENTS: Mapping[str, str] = Meanings(
    {
        "KILL_SWITCH": _("refused: the kill switch is on (also recorded when it is switched)"),
        "ENTRIES_PAUSED": _(
            "refused: an operator paused new entries (Telegram /pause_entries); exits keep running"
        ),
        "RECONCILE_HOLD": _("refused: the live books differ from Upbit until they are reconciled"),
        "WEEKLY_HALTED": _(
            "refused: the weekly loss limit was reached; entries resume on Monday, midnight KST"
        ),
        "TRADING_HALTED": _("refused: the daily loss limit was reached; entries resume at midnight KST"),
        "DAILY_LOSS_MARKED": _(
            "refused: today's loss counting open positions at the latest prices is at the limit"
        ),
        "COOLDOWN": _("refused: the account-wide pause after consecutive losing trades"),
        "DAILY_TRADE_LIMIT": _("refused: the day's maximum number of entries was reached"),
        "MARKET_DELISTED": _("refused: the market is no longer in Upbit's market list"),
        "MARKET_WARNING": _("refused: Upbit flags the market with an investment warning"),
        "MARKET_CAUTION": _("refused: Upbit flags the market with a caution"),
        "REENTRY_COOLDOWN": _(
            "refused: this symbol was sold less than the strategy's re-entry cooldown ago "
            "(a per-symbol pause, unrelated to losses)"
        ),
        "ALREADY_HOLDING": _("refused: a position in this symbol is already open"),
        "MAX_POSITIONS": _("refused: the maximum number of open positions is reached"),
        "MAX_EXPOSURE": _("refused: the buy would put more than the maximum share of equity in positions"),
        "BELOW_MIN_ORDER": _("refused: the computed order size is below Upbit's minimum order"),
        "BACKTEST_GATE": _("refused: the optional backtest gate found the recent backtest too weak"),
        "LIQUIDITY_REFUSED": _("refused: the order book could not fill the buy"),
        "LIQUIDITY_WARNING": _(
            "allowed with a warning: the buy walks the order book past the slippage thresholds"
        ),
        "COOLDOWN_STARTED": _("event: consecutive losses started the account-wide cooldown"),
        "DAILY_LOSS_HALT": _("event: the day's realised loss reached the daily limit; trading halted"),
        "WEEKLY_LOSS_HALT": _("event: the week's realised loss reached the weekly limit; trading halted"),
        "RECONCILE_MISMATCH": _("event: the live books and Upbit disagree; entries are held"),
        "RECONCILE_RESUMED": _("event: the live books match Upbit again; entries resume"),
        "LIVE_ACCOUNT_SEEDED": _("event: the live account's cash was first read from Upbit"),
        "ENTRIES_RESUMED": _("event: an operator allowed new entries again after a pause"),
        "MANUAL_CLOSE": _("event: an operator closed one position at market (who, and what was sold)"),
        "FLATTEN_ALL": _("event: an operator turned the kill switch on and sold every position at market"),
    }
)


def exit_label(reason: str, levels_done: int | str | None = None) -> str:
    """How a page names an exit: a scale-out with its level ("Partial take profit (level 2)"),
    any other reason as its code (the code is what the filters and the reports use)."""
    if reason != PARTIAL:
        return reason
    level = partial_level(levels_done)
    if level:
        # Translators: a scale-out sale; %(level)s is its profit level (1, 2, 3).
        return gettext("Partial take profit (level %(level)s)") % {"level": level}
    return gettext("Partial take profit")


def legend(codes: Iterable[str], meanings: dict[str, str]) -> dict[str, str]:
    """{code: meaning} of the given codes that have one, in the order first seen (for a tool
    result or a report: only the codes it shows)."""
    return {code: meanings[code] for code in dict.fromkeys(codes) if code in meanings}


def partial_level(value: object) -> int | None:
    """A sale's signal_info["partial_levels_done"] as a level (it is an int in JSON, text when
    read with KT()); None when absent or not a level."""
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if level > 0 else None


# How a page names a stored code in the reader's language. English keeps the code itself (traders
# read BUY and BULL as they are); Korean reads 매수, 상승장. static/js/format.js has the same table.
CODE_NAMES: dict[str, Promise] = {
    "BUY": pgettext_lazy("order side", "BUY"),
    "SELL": pgettext_lazy("order side", "SELL"),
    "BULL": pgettext_lazy("market regime", "BULL"),
    "SIDEWAYS": pgettext_lazy("market regime", "SIDEWAYS"),
    "BEAR": pgettext_lazy("market regime", "BEAR"),
    "UNKNOWN": pgettext_lazy("market regime", "UNKNOWN"),
    # What the bot cycle did with a symbol (trading/cycle_base.py SymbolResult.action).
    "HOLD": pgettext_lazy("bot action", "HOLD"),
    "BLOCKED": pgettext_lazy("bot action", "BLOCKED"),
    "VETOED": pgettext_lazy("bot action", "VETOED"),
    "SKIPPED": pgettext_lazy("bot action", "SKIPPED"),
    "ERROR": pgettext_lazy("bot action", "ERROR"),
}


def code_name(code: str | None) -> str:
    """`code_name("BULL")` = "BULL" in English, "상승장" in Korean; an unknown code as it is."""
    name = CODE_NAMES.get(code or "")
    return str(name) if name is not None else (code or "")
