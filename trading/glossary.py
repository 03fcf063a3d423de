"""One-line meanings of the codes CoinPilot records: exit reasons and risk audit types.

The pages (tooltips), the reports and the Ask CoinPilot tools read them from here, so a code
added to trading/models.py (ExitReason) or trading/risk.py (a Block) is explained the same way
everywhere; the tests fail when a code has no meaning here. Meanings hold no digits: Ask
CoinPilot's grounding check takes every number of a tool result as a known figure.
"""

from collections.abc import Iterable

from .models import ExitReason

PARTIAL = ExitReason.PARTIAL_TAKE_PROFIT.value

EXIT_REASONS: dict[str, str] = {
    "STOP_LOSS": "the price fell to the stop loss: a % or ATR distance below the entry price (the entry "
    "price itself after a scale-out when break-even is on)",
    "TRAILING_STOP": "once in profit, the price fell the trailing distance below its high since entry",
    "TAKE_PROFIT": "the price reached the take-profit level: all that was left of the position was sold",
    "RSI_OVERBOUGHT": "the RSI (fourteen bars) reached the overbought level with at least the minimum profit",
    "TIME_LIMIT": "the position was held longer than the regime's time limit",
    PARTIAL: "scale-out: one of up to three profit levels was reached and a share of the entry quantity "
    "was sold; the rest of the position stays open",
    "MANUAL": "closed by an operator (admin: Close at market), or a live sale booked without its reason",
    "KILL_SWITCH": "closed by the operator's kill switch with every position sold (admin)",
}

# Entry refusals (the risk manager said no to a buy) and limit events (recorded after a sale or
# by the live books' reconciliation). Order: as the risk manager checks them, then the events.
RISK_EVENTS: dict[str, str] = {
    "KILL_SWITCH": "refused: the kill switch is on (also recorded when it is switched)",
    "ENTRIES_PAUSED": "refused: an operator paused new entries (Telegram /pause_entries); exits keep running",
    "RECONCILE_HOLD": "refused: the live books differ from Upbit until they are reconciled",
    "WEEKLY_HALTED": "refused: the weekly loss limit was reached; entries resume on Monday, midnight KST",
    "TRADING_HALTED": "refused: the daily loss limit was reached; entries resume at midnight KST",
    "DAILY_LOSS_MARKED": "refused: today's loss counting open positions at the latest prices is at the limit",
    "COOLDOWN": "refused: the account-wide pause after consecutive losing trades",
    "DAILY_TRADE_LIMIT": "refused: the day's maximum number of entries was reached",
    "MARKET_DELISTED": "refused: the market is no longer in Upbit's market list",
    "MARKET_WARNING": "refused: Upbit flags the market with an investment warning",
    "MARKET_CAUTION": "refused: Upbit flags the market with a caution",
    "REENTRY_COOLDOWN": "refused: this symbol was sold less than the strategy's re-entry cooldown ago "
    "(a per-symbol pause, unrelated to losses)",
    "ALREADY_HOLDING": "refused: a position in this symbol is already open",
    "MAX_POSITIONS": "refused: the maximum number of open positions is reached",
    "MAX_EXPOSURE": "refused: the buy would put more than the maximum share of equity in positions",
    "BELOW_MIN_ORDER": "refused: the computed order size is below Upbit's minimum order",
    "BACKTEST_GATE": "refused: the optional backtest gate found the recent backtest too weak",
    "LIQUIDITY_REFUSED": "refused: the order book could not fill the buy",
    "LIQUIDITY_WARNING": "allowed with a warning: the buy walks the order book past the slippage thresholds",
    "COOLDOWN_STARTED": "event: consecutive losses started the account-wide cooldown",
    "DAILY_LOSS_HALT": "event: the day's realised loss reached the daily limit; trading halted",
    "WEEKLY_LOSS_HALT": "event: the week's realised loss reached the weekly limit; trading halted",
    "RECONCILE_MISMATCH": "event: the live books and Upbit disagree; entries are held",
    "RECONCILE_RESUMED": "event: the live books match Upbit again; entries resume",
    "LIVE_ACCOUNT_SEEDED": "event: the live account's cash was first read from Upbit",
    "ENTRIES_RESUMED": "event: an operator allowed new entries again after a pause",
    "MANUAL_CLOSE": "event: an operator closed one position at market (who, and what was sold)",
    "FLATTEN_ALL": "event: an operator turned the kill switch on and sold every position at market",
}


def exit_label(reason: str, levels_done: int | str | None = None) -> str:
    """How a page names an exit: a scale-out with its level ("Partial take profit (level 2)"),
    any other reason as its code (the code is what the filters and the reports use)."""
    if reason != PARTIAL:
        return reason
    level = partial_level(levels_done)
    return f"Partial take profit (level {level})" if level else "Partial take profit"


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
