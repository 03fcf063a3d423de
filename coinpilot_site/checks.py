"""System checks that refuse configurations which could lose real money.

The checks of the shared stores (PostgreSQL, a Redis that never evicts) are core's: core/checks.py.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security, deploy=False)
def live_trading_is_safe(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Live trading needs API keys and must never run with DEBUG on."""
    if not settings.COINPILOT_LIVE_TRADING:
        return []
    errors = []
    if not (settings.UPBIT_ACCESS_KEY and settings.UPBIT_SECRET_KEY):
        errors.append(
            checks.Error(
                "COINPILOT_LIVE_TRADING=1 but UPBIT_ACCESS_KEY / UPBIT_SECRET_KEY are not set.",
                hint="Set both keys, or unset COINPILOT_LIVE_TRADING to trade on paper.",
                id="coinpilot.E001",
            )
        )
    if settings.DEBUG:
        errors.append(
            checks.Error(
                "Live trading is refused while DEBUG is on.",
                hint="Set DEBUG=0 (and a real SECRET_KEY) before enabling COINPILOT_LIVE_TRADING.",
                id="coinpilot.E002",
            )
        )
    return errors


def refuse_to_serve_misconfigured() -> None:
    """Raise ImproperlyConfigured when a system check finds an error (gunicorn runs none itself)."""
    serious = [message for message in checks.run_checks() if message.is_serious()]
    if serious:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg} {m.hint or ''}".strip() for m in serious))
