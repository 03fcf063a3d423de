"""Where an event goes (Discord webhook, Telegram chats) and the delivery timings, read from
settings at call time."""

import hashlib
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


# --- Telegram: a second channel beside Discord -------------------------------------------------
TELEGRAM_INTERVAL = 1.0  # seconds between messages to one chat (Telegram allows about 1 per second)
TELEGRAM_PREFIX = "tg:"  # outbox fingerprints of Telegram chats start with this


def parse_chat_ids(raw: str, variable: str = "TELEGRAM_ALERT_CHAT_IDS") -> tuple[int, ...]:
    """Chat ids from "12345, -100987"; a value that is not a chat id raises ImproperlyConfigured."""
    from django.core.exceptions import ImproperlyConfigured

    chats: list[int] = []
    for part in (p.strip() for p in str(raw).split(",")):
        if not part:
            continue
        try:
            chat = int(part)
        except ValueError:
            raise ImproperlyConfigured(
                f"{variable}: {part!r} is not a chat id (comma-separated numbers, e.g. 12345,-1001234567890)"
            ) from None
        if chat not in chats:
            chats.append(chat)
    return tuple(chats)


def parse_events(raw: str, variable: str = "TELEGRAM_ALERT_EVENTS") -> tuple[str, ...]:
    """Event types from "trade, risk" (empty: every event type); an unknown name raises."""
    from django.core.exceptions import ImproperlyConfigured

    names = [p.strip().lower() for p in str(raw).split(",") if p.strip()]
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise ImproperlyConfigured(
            f"{variable}: unknown event type(s) {', '.join(map(repr, unknown))}; use {', '.join(EVENT_TYPES)}"
        )
    return tuple(name for name in EVENT_TYPES if name in names) if names else EVENT_TYPES


def telegram_chats(event: str) -> tuple[int, ...]:
    """The chats this event goes to (none without a bot token or chat ids: Telegram alerts off)."""
    if not getattr(settings, "TELEGRAM_BOT_TOKEN", ""):
        return ()
    if event not in getattr(settings, "TELEGRAM_ALERT_EVENTS", EVENT_TYPES):
        return ()
    return tuple(getattr(settings, "TELEGRAM_ALERT_CHAT_IDS", ()))


def telegram_hook(chat_id: int) -> str:
    """The chat's outbox fingerprint: changes with the token, never reveals it."""
    digest = hashlib.sha256(f"{settings.TELEGRAM_BOT_TOKEN}:{chat_id}".encode()).hexdigest()[:16]
    return f"{TELEGRAM_PREFIX}{digest}"


def telegram_chat_of(hook: str) -> int | None:
    """The configured chat whose fingerprint is `hook` (None: removed, or the token changed)."""
    if not getattr(settings, "TELEGRAM_BOT_TOKEN", ""):
        return None
    return next(
        (c for c in getattr(settings, "TELEGRAM_ALERT_CHAT_IDS", ()) if telegram_hook(c) == hook), None
    )


def destinations(event: str) -> list[str]:
    """Outbox fingerprints this event goes to: its Discord webhook, then each Telegram chat."""
    from .discord import fingerprint

    url = webhook_url(event)
    return ([fingerprint(url)] if url else []) + [telegram_hook(chat) for chat in telegram_chats(event)]


def item_id_for(item_id: str, hook: str) -> str:
    """The outbox item id at one destination: Discord keeps the alert's id, a chat gets its own
    (the NotificationLog ref and the outbox's "pushed once" mark are per item id)."""
    return f"{item_id}@{hook}" if hook.startswith(TELEGRAM_PREFIX) else item_id
