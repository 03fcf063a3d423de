"""Scheduled market jobs (declared in coinpilot_site/schedule.py)."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .collector import collect
from .sources import get_source
from .symbols import active_symbols


class CollectFailed(RuntimeError):
    """Every symbol failed: the job fails and the wrapper raises a `system` alert."""


def collect_candles(*, slot: datetime) -> str:
    """Store the newest closed 1m candles of every active symbol, filling any gap first."""
    source = get_source()
    try:
        result = collect(
            source, active_symbols(), now=timezone.now(), threads=settings.COINPILOT_COLLECTOR_THREADS
        )
    finally:
        source.close()
    if result.symbols and len(result.errors) == result.symbols:
        raise CollectFailed(result.summary())
    return result.summary()
