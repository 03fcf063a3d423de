"""Scheduled trading jobs (thin: they call plain code)."""

from collections import Counter
from datetime import datetime

from django.utils import timezone

from .cycle import run_cycle
from .executors import get_executor
from .markets import live_market


def bot_cycle(*, slot: datetime) -> str:
    """One bot cycle for every configured symbol (SPEC 7)."""
    results = run_cycle(now=timezone.now(), slot=slot, market=live_market(), executor=get_executor())
    counts = Counter(result.action for result in results)
    return ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "no symbols"
