"""Which webhook an event goes to, and the delivery timings, read from settings at call time."""

from dataclasses import dataclass

from django.conf import settings

EVENT_TYPES = ("trade", "ai-decision", "ai-reject", "risk", "daily-report", "weekly-exit-report", "system")
MAX_RATE_LIMITED = 5  # 429s in a row for one message before it is given up (Discord misbehaving)


@dataclass(frozen=True)
class Timings:
    """Delivery timings (seconds) from the DISCORD_* settings."""

    timeout: float
    interval: float
    retry_base: float
    max_retries: int
    slice: float

    @classmethod
    def from_settings(cls) -> "Timings":
        return cls(
            timeout=settings.DISCORD_TIMEOUT_SECONDS,
            interval=settings.DISCORD_MIN_INTERVAL_SECONDS,
            retry_base=settings.DISCORD_RETRY_BASE_SECONDS,
            max_retries=settings.DISCORD_MAX_RETRIES,
            slice=settings.DISCORD_SLICE_SECONDS,
        )

    def backoff(self, attempts: int) -> float:
        """Wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ..."""
        return self.retry_base * 2 ** (attempts - 1)


def webhook_url(event: str) -> str:
    """The event's own webhook URL if configured, else the default one ("" = sending is off)."""
    return getattr(settings, "DISCORD_WEBHOOK_URLS", {}).get(event) or settings.DISCORD_WEBHOOK_URL


def events_of(hook_url: str) -> list[str]:
    """The event types that currently go to this URL."""
    return [event for event in EVENT_TYPES if webhook_url(event) == hook_url]


def configured_urls() -> list[str]:
    """Every distinct webhook URL in use."""
    urls = {settings.DISCORD_WEBHOOK_URL, *getattr(settings, "DISCORD_WEBHOOK_URLS", {}).values()}
    return sorted(url for url in urls if url)
