"""Scheduled trading jobs (thin: they call plain code)."""

from collections import Counter
from datetime import datetime

from django.utils import timezone

from . import stale
from .cycle import run_cycle
from .executors import get_executor
from .markets import live_market


def bot_cycle(*, slot: datetime) -> str:
    """One bot cycle for every configured symbol."""
    now = timezone.now()
    results = run_cycle(now=now, slot=slot, market=live_market(), executor=get_executor())
    stale.watch(now, results)  # data outages and unprotected positions: state and alerts
    counts = Counter(result.action for result in results)
    return ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "no symbols"
