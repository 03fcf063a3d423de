"""The decision log: every outcome of the AI gate is one AgentDecision plus its alert.

The row is written in its own transaction so a rollback of the caller's transaction cannot erase
it: inside an atomic block on PostgreSQL it goes through the `agents_log` connection (a second
connection to the same database, see settings). SQLite has one writer at a time, so there the
row shares the caller's connection; the bot cycle never asks the gate inside a transaction.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction

from core.notify import notify

from .models import AgentDecision

LOG_ALIAS = "agents_log"
REASON_LIMIT = 500


def log_alias() -> str:
    """The connection a decision is written on now."""
    if LOG_ALIAS in settings.DATABASES and transaction.get_connection().in_atomic_block:
        return LOG_ALIAS
    return DEFAULT_DB_ALIAS


def record(*, rsi: float | None = None, **fields) -> AgentDecision:
    """Write one decision (committed at once) and raise its alert; returns the row."""
    alias = log_alias()
    with transaction.atomic(using=alias):
        row = AgentDecision.objects.using(alias).create(**fields)
    alert(row, rsi)
    return row


def alert(row: AgentDecision, rsi: float | None) -> None:
    """ai-decision for an approval, ai-reject for a rejection; skips stay in the log only."""
    rsi_text = None if rsi is None else f"{rsi:.1f}"
    if row.decision == AgentDecision.Decision.APPROVED:
        notify(
            "ai-decision",
            {
                "symbol": row.symbol,
                "decision": row.decision,
                "confidence": row.confidence,
                "regime": row.regime,
                "rsi": rsi_text,
                "model": row.model_used,
                "latency_ms": row.latency_ms,
                "reasoning": row.reasoning[:1000],
            },
        )
    elif row.decision == AgentDecision.Decision.REJECTED:
        notify(
            "ai-reject",
            {
                "symbol": row.symbol,
                "regime": row.regime,
                "rsi": rsi_text,
                "reason": row.reasoning[:REASON_LIMIT],
            },
        )
