"""Scheduled AI jobs (thin: they call plain code)."""

from datetime import datetime

from django.utils import timezone

from .scorecard import track_prices


def track_decision_prices(*, slot: datetime) -> str:
    """Prices 1h/4h/24h after each AI decision, for the veto scorecard (every 10 minutes)."""
    return track_prices(timezone.now())
