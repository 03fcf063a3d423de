"""Order execution: paper (default) or live Upbit, chosen by settings.COINPILOT_LIVE_TRADING."""

from django.conf import settings

from .base import ExecutionError, Executor, OrderRefused


def get_executor() -> Executor:
    """The executor the settings ask for; live only on explicit opt-in (system checks guard keys)."""
    if settings.COINPILOT_LIVE_TRADING:
        from .live import LiveExecutor

        return LiveExecutor.from_settings()
    from .paper import PaperExecutor

    return PaperExecutor.from_settings()


__all__ = ["ExecutionError", "Executor", "OrderRefused", "get_executor"]
