"""The languages CoinPilot speaks and how one is chosen.

A page uses, in order: the signed-in user's saved preference (the language menu), the language
cookie, the browser's Accept-Language, then COINPILOT_LANGUAGE. Alerts and reports are written for a
channel, not a person: they use COINPILOT_ALERT_LANGUAGE (default: COINPILOT_LANGUAGE).
"""

from django.core.exceptions import ImproperlyConfigured

LANGUAGES = [("ko", "한국어"), ("en", "English")]
CODES = tuple(code for code, _ in LANGUAGES)
SESSION_KEY = "preferred_language"  # the saved preference, copied into the session at sign-in


def parse_language(raw: str, variable: str) -> str:
    """ "ko" or "en" from a setting ("ko-KR", "EN" read as such); anything else is a configuration error."""
    code = raw.strip().lower().replace("_", "-").split("-")[0]
    if code not in CODES:
        raise ImproperlyConfigured(
            f"{variable}={raw!r}: CoinPilot speaks {' and '.join(CODES)}; set one of them."
        )
    return code


def supported(code: str | None) -> str | None:
    """`code` if CoinPilot speaks it, else None."""
    return code if code in CODES else None
