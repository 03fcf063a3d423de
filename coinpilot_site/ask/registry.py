"""The tool set the "Ask CoinPilot" model is offered: names, descriptions, parameters, and the call.

`call()` validates the model's arguments (args.py) before the tool runs; `timed_call()` never
raises, so a bad call becomes an error result the model can correct.
"""

import time
from datetime import datetime

from agents.models import AgentDecision
from market.models import Regime
from trading.glossary import EXIT_REASONS, RISK_EVENTS
from trading.models import ExitReason, Side, TradeStatus

from .args import FROM, LIMIT, SYMBOL, TO, Param, ToolArgumentError, validate
from .tools import (
    Tool,
    ToolResult,
    ai_decisions,
    bot_status,
    current_config,
    daily_report,
    positions_now,
    regime_history,
    risk_audits,
    risk_state,
    trades,
    weekly_exit_report,
)


def _choice(description: str, values) -> Param:
    return Param("choice", description, choices=tuple(values))


def _meanings(meanings: dict[str, str], codes=None) -> str:
    """'CODE = meaning; ...' so the model reads every code (a new one included) as the pages do."""
    return "; ".join(f"{code} = {meanings.get(code, 'no description')}" for code in codes or meanings)


PERIOD = {"from": FROM, "to": TO, "limit": LIMIT}
TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "get_trades",
            "Orders CoinPilot placed (BUY and SELL fills, failures), newest first by fill time, with price, "
            "quantity, "
            "fee, exit reason, regime, realized PnL of SELLs and the indicators at decision time. A "
            "PARTIAL_TAKE_PROFIT SELL is a scale-out (signal_info.partial_levels_done: levels sold so far); "
            "a BUY's signal_info.sizing says how its size was chosen.",
            {
                "symbol": SYMBOL,
                "side": _choice("BUY or SELL", Side.values),
                "status": _choice("Order status", TradeStatus.values),
                "exit_reason": _choice(
                    "Why a SELL happened: " + _meanings(EXIT_REASONS, ExitReason.values), ExitReason.values
                ),
                "regime": _choice("Regime at the order", Regime.values),
                **PERIOD,
            },
            trades,
        ),
        Tool(
            "get_ai_decisions",
            "The AI second opinion on rule-approved buys (APPROVED, REJECTED, SKIPPED) with the Analyst "
            "and Guardian verdicts, confidence, reasoning, skip reason or error, newest first.",
            {"symbol": SYMBOL, "decision": _choice("Verdict", AgentDecision.Decision.values), **PERIOD},
            ai_decisions,
        ),
        Tool(
            "get_risk_audits",
            "Orders refused by the risk manager and limit events (halt, cooldown, per-symbol re-entry "
            "cooldown, kill switch), newest first.",
            {
                "symbol": SYMBOL,
                "violation_type": Param("text", "Event type (exact code): " + _meanings(RISK_EVENTS)),
                **PERIOD,
            },
            risk_audits,
        ),
        Tool(
            "get_regime_history",
            "Regime evaluations (BULL / SIDEWAYS / BEAR / UNKNOWN from hourly MA50 vs MA200), newest first.",
            {"symbol": SYMBOL, **PERIOD},
            regime_history,
        ),
        Tool(
            "get_positions",
            "Open positions now with quantity, average price, latest price, unrealized PnL, and the cash.",
            {},
            positions_now,
        ),
        Tool(
            "get_bot_status",
            "What the bot cycle did last minute per symbol: price, regime, indicators, action and reason.",
            {"symbol": SYMBOL},
            bot_status,
        ),
        Tool(
            "get_risk_state",
            "Kill switch and the last 7 KST days' risk counters: realized PnL, entries, loss streak, "
            "cooldown, halt.",
            {},
            risk_state,
        ),
        Tool(
            "get_daily_report",
            "The daily report of a KST day (22:00 to 22:00): realized PnL, win rate, sells, drawdown, "
            "per exit reason. Without 'from' the current report day.",
            {"from": Param("from", "The report day")},
            daily_report,
        ),
        Tool(
            "get_weekly_exit_report",
            "Exit performance per regime and exit reason over the last N days (default 7), with tuning "
            "suggestions.",
            {"days": Param("int", "Days to cover", minimum=1, maximum=90)},
            weekly_exit_report,
        ),
        Tool(
            "get_config",
            "The active strategy parameters per regime, the risk limits, trading mode and AI on/off.",
            {},
            current_config,
        ),
    )
}


def schemas() -> list[dict]:
    return [tool.schema() for tool in TOOLS.values()]


def call(name: str, args, now: datetime) -> ToolResult:
    """Run tool `name` with the model's `args`; ToolArgumentError for an unknown tool or bad args."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolArgumentError(f"unknown tool {name!r} (tools: {', '.join(TOOLS)})")
    return tool.run(validate(tool.params, args), now)


def timed_call(name: str, args, now: datetime) -> tuple[ToolResult | None, str, int]:
    """`call`, never raising: (result or None, error text, milliseconds)."""
    started = time.monotonic()
    try:
        result, error = call(name, args, now), ""
    except ToolArgumentError as exc:
        result, error = None, f"invalid arguments: {exc}"
    except Exception as exc:  # a failed read is reported to the model, not raised at the operator
        result, error = None, f"tool failed: {type(exc).__name__}: {exc}"[:300]
    return result, error, int((time.monotonic() - started) * 1000)
