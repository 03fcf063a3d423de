"""Numeric settings are read and checked when the settings load, so a typo stops the start.

A value like `5%` in COINPILOT_PAPER_SLIPPAGE_BPS would otherwise pass the settings (some amounts
are kept as text for Decimal) and fail inside a bot cycle; an unparsable `env.int` would stop the
start with a traceback that does not name the variable. Here both become one ImproperlyConfigured
naming each variable and what it may be.
"""

import os

import environ
from django.core.exceptions import ImproperlyConfigured

from .bounds import BoundsError, allowed_numbers, parse_number

_SECONDS, _DAY, _WEEK = "seconds", 86400, 7 * 86400

# name: (lowest, highest, whole number, unit); for the names in ABOVE the lowest is excluded.
NUMBERS: dict[str, tuple[int, int, bool, str]] = {
    "LOGIN_MAX_FAILURES": (1, 100, True, "failures"),
    "LOGIN_LOCKOUT_SECONDS": (1, _WEEK, True, _SECONDS),
    "CONN_MAX_AGE": (0, 3600, True, _SECONDS),
    "JOB_RUNS_KEEP_DAYS": (2, 3650, True, "days"),
    "TRUSTED_PROXY_COUNT": (0, 10, True, "proxies"),
    "MAX_ACTIVE_SYMBOLS": (1, 100, True, "symbols"),
    "UNPROTECTED_ALERT_SECONDS": (60, _DAY, True, _SECONDS),
    "COINPILOT_SIM_SEED": (0, 2**32 - 1, True, ""),
    "COINPILOT_COLLECTOR_THREADS": (1, 32, True, "threads"),
    "UPBIT_RATE_PER_SEC": (0, 10, False, "requests per second (Upbit allows 10)"),
    "UPBIT_TIMEOUT_SECONDS": (0, 60, False, _SECONDS),
    "COINPILOT_PAPER_INITIAL_KRW": (5000, 10**11, False, "KRW"),
    "COINPILOT_PAPER_SLIPPAGE_BPS": (0, 1000, False, "bps (1000 = 10 %)"),
    "UPBIT_ORDER_RATE_PER_SEC": (0, 8, False, "orders per second (Upbit allows 8)"),
    "UPBIT_EXCHANGE_RATE_PER_SEC": (0, 30, False, "requests per second (Upbit allows 30)"),
    "UPBIT_ORDER_POLL_TIMEOUT_SECONDS": (0, 300, False, _SECONDS),
    "UPBIT_ORDER_POLL_INTERVAL_SECONDS": (0, 10, False, _SECONDS),
    "COINPILOT_RECONCILE_GRACE_SECONDS": (0, _DAY, False, _SECONDS),
    "COINPILOT_RECONCILE_KRW_TOLERANCE": (0, 1_000_000, False, "KRW"),
    "COINPILOT_HIGH_VOLATILITY_RATIO": (1, 10, False, "x the long-run volatility"),
    "COINPILOT_BACKTEST_SLIPPAGE_BPS": (0, 1000, False, "bps (1000 = 10 %)"),
    "COINPILOT_BACKTEST_GATE_DAYS": (1, 365, True, "days"),
    "AI_CYCLE_BUDGET_SECONDS": (0, 50, False, "seconds (the cycle runs every 60)"),
    "BOT_CYCLE_BAR_WAIT_SECONDS": (0, 30, False, _SECONDS),
    "AI_TIMEOUT_SECONDS": (0, 120, False, _SECONDS),
    "AI_SDK_MAX_RETRIES": (0, 5, True, "retries"),
    "AI_MIN_CONFIDENCE": (0, 100, True, ""),
    "AI_HOURLY_CAP": (0, 10_000, True, "runs"),
    "AI_DAILY_CAP": (0, 100_000, True, "runs"),
    "AI_COOLDOWN_MINUTES": (0, 1440, True, "minutes each"),
    "AI_REJECT_COUNT_TTL_MINUTES": (1, 10_080, True, "minutes"),
    "AI_ERROR_STREAK_LIMIT": (1, 100, True, "failures"),
    "AI_BLOCK_MINUTES": (1, 10_080, True, "minutes"),
    "AI_DAILY_BUDGET_USD": (0, 10_000, False, "USD"),
    "AI_PRICE_INPUT_PER_MTOK_USD": (0, 1000, False, "USD"),
    "AI_PRICE_OUTPUT_PER_MTOK_USD": (0, 1000, False, "USD"),
    "AI_PREFILTER_MAX_DROP_PCT_6H": (0, 100, False, "%"),
    "AI_PREFILTER_THIN_VOLUME_RATIO": (0, 1, False, "of the 24-hour average"),
    "OPENAI_TIMEOUT_SECONDS": (0, 300, False, _SECONDS),
    "ASK_MAX_TOOL_CALLS": (1, 50, True, "calls"),
    "ASK_TIME_LIMIT_SECONDS": (0, 55, False, "seconds (gunicorn's timeout is 60)"),
    "ASK_MAX_TOKENS": (1, 32_000, True, "tokens"),
    "ASK_TOOL_ROW_LIMIT": (1, 1000, True, "rows"),
    "ANALYTICS_WEEKLY_DAYS": (1, 365, True, "days"),
    "ANALYTICS_MIN_SAMPLE": (1, 10_000, True, "sells"),
    "FILL_DRIFT_ALERT_BPS": (0, 1000, False, "bps (1000 = 10 %)"),
    "LAB_MAX_TRIALS": (1, 100_000, True, "trials"),
    "LAB_PARALLEL_JOBS": (1, 256, True, "jobs"),
    "LAB_HEARTBEAT_SECONDS": (1, 600, True, _SECONDS),
    "LAB_STALE_TRIAL_SECONDS": (2, 3600, True, _SECONDS),
    "DISCORD_TIMEOUT_SECONDS": (0, 60, False, _SECONDS),
    "DISCORD_MIN_INTERVAL_SECONDS": (0, 60, False, _SECONDS),
    "DISCORD_RETRY_BASE_SECONDS": (0, 60, False, _SECONDS),
    "DISCORD_MAX_RETRIES": (0, 10, True, "retries"),
    "DISCORD_SLICE_SECONDS": (0, 120, False, _SECONDS),
    "NOTIFY_RISK_COOLDOWN_SECONDS": (0, _DAY, True, _SECONDS),
    "TELEGRAM_CONFIRM_SECONDS": (5, 3600, True, _SECONDS),
    "TELEGRAM_POLL_SECONDS": (0, 50, True, _SECONDS),
    "SECURE_HSTS_SECONDS": (0, 2 * 365 * _DAY, True, _SECONDS),
}
# Zero would stop the thing altogether (no requests, no waiting at all): more than 0 is required.
ABOVE = {
    "UPBIT_RATE_PER_SEC",
    "UPBIT_TIMEOUT_SECONDS",
    "UPBIT_ORDER_RATE_PER_SEC",
    "UPBIT_EXCHANGE_RATE_PER_SEC",
    "UPBIT_ORDER_POLL_TIMEOUT_SECONDS",
    "UPBIT_ORDER_POLL_INTERVAL_SECONDS",
    "AI_TIMEOUT_SECONDS",
    "OPENAI_TIMEOUT_SECONDS",
    "ASK_TIME_LIMIT_SECONDS",
    "DISCORD_TIMEOUT_SECONDS",
    "DISCORD_SLICE_SECONDS",
}


class Env(environ.Env):
    """environ.Env whose readers name the variable when its value cannot be read as asked."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except (ValueError, TypeError):
            raw = os.environ.get(var, "")
            raise ImproperlyConfigured(f"{var} {_allowed(var)}, not {raw!r} (see .env.example)") from None


def _allowed(name: str) -> str:
    if name not in NUMBERS:
        return "has a value of the wrong kind"
    low, high, whole, unit = NUMBERS[name]
    return "must be " + allowed_numbers(low, high, whole=whole, unit=unit, above=name in ABOVE)


def number_errors(namespace: dict) -> list[str]:
    """One message per numeric setting in `namespace` outside its bounds."""
    errors = []
    for name, (low, high, whole, unit) in NUMBERS.items():
        if name not in namespace:
            continue
        value = namespace[name]
        for item in value if isinstance(value, list | tuple) else [value]:
            try:
                parse_number(item, low=low, high=high, whole=whole, unit=unit, above=name in ABOVE)
            except BoundsError:
                raw = os.environ.get(name, str(item))  # what the operator wrote, not what it became
                errors.append(f"{name} {_allowed(name)}, not {raw!r}")
                break
    return errors


def check_numbers(namespace: dict) -> None:
    """Raise ImproperlyConfigured naming every numeric setting outside its bounds."""
    errors = number_errors(namespace)
    if errors:
        raise ImproperlyConfigured("; ".join(errors) + " (see .env.example)")
