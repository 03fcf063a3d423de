"""Scheduled analysis jobs: hourly regime and daily volatility (thin: they call plain code)."""

from datetime import datetime

from django.conf import settings

from . import regime, volatility
from .symbols import active_symbols


def update_regime(*, slot: datetime) -> str:
    """Regime of every active symbol from the hours closed before this slot."""
    return regime.summary(regime.update_regimes(active_symbols(), slot))


def retrain_volatility(*, slot: datetime) -> str:
    """GARCH(1,1) state of the bellwether symbol; a failed fit keeps the last state."""
    return volatility.retrain(
        settings.COINPILOT_VOLATILITY_SYMBOL, high_ratio=settings.COINPILOT_HIGH_VOLATILITY_RATIO, now=slot
    )
