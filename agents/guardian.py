"""The Guardian: a second look for risk after the Analyst confirmed. SAFE or WARNING."""

from typing import Literal

from pydantic import BaseModel, Field

TOOL_NAME = "submit_risk_check"
SYSTEM = (
    "You are the Guardian of a crypto trading bot. The Analyst confirmed a buy. Look only for "
    "reasons this entry is dangerous now (panic selling, a falling knife, abnormal volume, a "
    "breakdown of support). Say WARNING if there is one, SAFE otherwise. Answer by calling the tool."
)


class GuardianVerdict(BaseModel):
    decision: Literal["SAFE", "WARNING"]
    reasoning: str = Field(min_length=1)


TOOL = {
    "name": TOOL_NAME,
    "description": "Submit your risk verdict on the confirmed buy.",
    "input_schema": {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["SAFE", "WARNING"]},
            "reasoning": {"type": "string", "description": "one or two sentences"},
        },
        "required": ["decision", "reasoning"],
        "additionalProperties": False,
    },
}


def prompt(analyst_prompt: str, confidence: int, analyst_reasoning: str) -> str:
    """The Analyst's data and its verdict."""
    return f"{analyst_prompt}\n\nAnalyst: CONFIRM with confidence {confidence}: {analyst_reasoning}"
