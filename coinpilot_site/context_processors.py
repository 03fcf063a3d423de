from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest

from trading.models import TradingControl


def trading_mode(request: HttpRequest) -> dict:
    """Every page shows whether real money is at stake."""
    return {
        "live_trading": settings.COINPILOT_LIVE_TRADING,
        "ai_enabled": bool(settings.ANTHROPIC_API_KEY),
        "kill_switch": kill_switch_on,  # a callable: read only by a page that shows the banner
    }


def kill_switch_on() -> dict | None:
    """The kill switch's reason while it is on, for the banner on every page; None when off or unreadable
    (the System page says when the database is down)."""
    try:
        on, reason = TradingControl.kill_switch_state()
    except DatabaseError:
        return None
    return {"reason": reason} if on else None
