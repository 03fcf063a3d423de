from django.conf import settings
from django.http import HttpRequest


def trading_mode(request: HttpRequest) -> dict:
    """Every page shows whether real money is at stake."""
    return {
        "live_trading": settings.COINPILOT_LIVE_TRADING,
        "ai_enabled": bool(settings.ANTHROPIC_API_KEY),
    }
