"""Error reports (the DEBUG error page, error mails) that show no secret.

Django masks settings whose names contain KEY, TOKEN, SECRET, PASS, ...; CoinPilot's webhook URLs,
database and Redis URLs match none of those, and a secret can also sit in a local variable, in the
request's environment (runserver copies the process environment into it) or in an exception's
message. So the filter masks by name (Django's names plus ours) and by value, and the reporter
replaces every secret value left anywhere in the finished report.
"""

import html
import os
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Settings holding a secret (some exist only in some deployments).
SECRET_SETTINGS = (
    "SECRET_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
    "METRICS_TOKEN",
    "DISCORD_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN",
    "SENTRY_DSN",
)
# Environment variables that may carry credentials inside a URL.
SECRET_URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")
MIN_SECRET_CHARS = 8  # shorter values ("1", "dev") would mask unrelated text


def secret_values() -> list[str]:
    """Every configured secret value, longest first (so a URL goes before its token)."""
    values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    webhooks = [*getattr(settings, "DISCORD_WEBHOOK_URLS", {}).values(), settings.DISCORD_WEBHOOK_URL]
    values += [url.rstrip("/").rsplit("/", 1)[-1] for url in webhooks if url]  # the token alone
    values += [db.get("PASSWORD") or "" for db in settings.DATABASES.values()]
    for name in SECRET_URL_VARIABLES:
        url = os.environ.get(name, "") or str(getattr(settings, name, "") or "")
        if _password_of(url):
            values += [url, _password_of(url)]
    found = {v for v in values if len(v) >= MIN_SECRET_CHARS}
    return sorted(found, key=len, reverse=True)


def _password_of(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def scrub(text: str, substitute: str) -> str:
    """`text` with every secret value (raw or HTML-escaped) replaced by `substitute`."""
    for value in secret_values():
        text = text.replace(value, substitute).replace(html.escape(value), substitute)
    return text


class SecretsFilter(SafeExceptionReporterFilter):
    """Masks settings and request variables by name (Django's patterns and CoinPilot's) and by value."""

    hidden_settings = re.compile(
        r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|WEBHOOK|DSN|DATABASE_URL|REDIS_URL|^URL$",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str) and _holds_secret(cleansed):
            return self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleansed_substitute if isinstance(value, str) and _holds_secret(value) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


def _holds_secret(text: str) -> bool:
    return any(value in text for value in secret_values())


class SecretsReporter(ExceptionReporter):
    """The technical error report, with any secret value left in it (e.g. in a message) replaced."""

    def get_traceback_html(self) -> str:
        return scrub(str(super().get_traceback_html()), self.filter.cleansed_substitute)

    def get_traceback_text(self) -> str:
        return scrub(str(super().get_traceback_text()), self.filter.cleansed_substitute)
