"""The Analyst: does the rule-approved buy make sense in the last 24 hours?

Its answer comes through a forced tool call and is validated here: decision in the allowed set,
confidence 0-100, reasoning not empty. A CONFIRM below the confidence threshold counts as REJECT.
"""

import json
from typing import Literal

from pydantic import BaseModel, Field

from .context import Context

TOOL_NAME = "submit_analysis"
REGIME_TEXT = {
    "BULL": "uptrend: hourly MA50 at least 2% above MA200; buy dips that recover",
    "SIDEWAYS": "range: MA50 within 2% of MA200; buy a recovery from the lower Bollinger band",
    "BEAR": "downtrend: MA50 at least 2% below MA200; only short oversold bounces, beware falling knives",
    "UNKNOWN": "not enough history to classify",
}
SYSTEM = (
    "You are the Analyst of a crypto trading bot on Upbit KRW markets. A rule strategy wants to buy "
    "now. Judge from the data only whether this entry is sound. You can only confirm or reject; "
    "reject when the evidence is weak. Answer by calling the tool."
)


class AnalystVerdict(BaseModel):
    decision: Literal["CONFIRM", "REJECT"]
    confidence: int = Field(ge=0, le=100, strict=True)
    reasoning: str = Field(min_length=1)


TOOL = {
    "name": TOOL_NAME,
    "description": "Submit your verdict on the proposed buy.",
    "input_schema": {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["CONFIRM", "REJECT"]},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
            "reasoning": {"type": "string", "description": "two or three sentences"},
        },
        "required": ["decision", "confidence", "reasoning"],
        "additionalProperties": False,
    },
}


def prompt(symbol: str, regime: str, price, indicators: dict, ctx: Context, bear: dict, reason: str) -> str:
    """The user message: symbol, regime and its meaning, indicators, hourly candles, BEAR features."""
    lines = [
        f"Symbol: {symbol}   price: {price}",
        f"Regime: {regime} ({REGIME_TEXT.get(regime, '')})",
        f"Rule signal: {reason}",
        "Indicators (1-minute bars): " + json.dumps(_plain(indicators), sort_keys=True),
    ]
    if bear:
        lines.append("BEAR features: " + json.dumps(bear, sort_keys=True))
    lines.append("Hourly candles, UTC, oldest first (open high low close volume):")
    for ts, row in ctx.hourly.iterrows():
        lines.append(
            f"{ts:%Y-%m-%d %H:%M} {row['open']:.8g} {row['high']:.8g} {row['low']:.8g} "
            f"{row['close']:.8g} {row['volume']:.6g}"
        )
    return "\n".join(lines)


def _plain(values: dict) -> dict:
    return {
        k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items() if not isinstance(v, list)
    }
