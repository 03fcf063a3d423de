"""The symbols to collect: trading's active list when available, else the configured default.

market must not import trading, so the provider is named by a setting and imported lazily.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def active_symbols() -> list[str]:
    """settings.COINPILOT_SYMBOLS_PROVIDER(), or COINPILOT_DEFAULT_SYMBOLS if it fails or is empty."""
    path = settings.COINPILOT_SYMBOLS_PROVIDER
    if path:
        try:
            symbols = [str(s).strip().upper() for s in import_string(path)() or [] if str(s).strip()]
        except Exception:
            log.warning("symbols provider %s failed; using COINPILOT_DEFAULT_SYMBOLS", path, exc_info=True)
            symbols = []
        if symbols:
            return list(dict.fromkeys(symbols))
    return list(settings.COINPILOT_DEFAULT_SYMBOLS)
