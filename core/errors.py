"""Error tracking (opt-in): with SENTRY_DSN set, every process reports its exceptions to Sentry.

Settings call `init_error_tracking()` once, so the web, the RQ workers (the forked work horse
included: the SDK's RQ integration flushes before the horse exits) and the scheduler all report.
Without a DSN nothing is initialised and nothing is sent.

What an event may carry: release, environment, and as tags the job, slot, symbol and request id
where known (core/logging_context.py). What it never carries: personal data (send_default_pii off),
request bodies (max_request_body_size "never"), local variables of a traceback, and any configured
secret value, which `before_send` replaces wherever it appears (messages, breadcrumbs, tags, ...).
"""

import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .logging_context import context_of, current

FILTERED = "[Filtered]"
MIN_SECRET_CHARS = 8  # shorter values would mask unrelated text
TAG_MAX_CHARS = 200  # Sentry's limit for a tag value
# Sentry refuses an environment or release with these (and "." / ".." / "None" as a release).
_BAD_NAME = re.compile(r"[\s/\\]")
_NAME_RULE = "1-{} characters without spaces or slashes"

_secret_values: Callable[[], Iterable[str]] = lambda: ()  # noqa: E731
_dsn_secrets: tuple[str, ...] = ()


def default_release(base_dir: Path) -> str:
    """coinpilot@<version in pyproject.toml>: the image has no git history to describe."""
    try:
        version = tomllib.loads((base_dir / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    return f"coinpilot@{version}"


def check_error_tracking(dsn: str, environment: str, release: str) -> None:
    """Raise ImproperlyConfigured naming each error-tracking variable that Sentry would refuse."""
    from sentry_sdk.utils import BadDsn, Dsn

    errors = []
    if dsn:
        try:
            Dsn(dsn)
        except (BadDsn, ValueError):  # the value is a credential: never repeated in the message
            errors.append("SENTRY_DSN is not a Sentry DSN (expected https://<key>@<host>/<project id>)")
    if not environment or len(environment) > 64 or _BAD_NAME.search(environment):
        errors.append(f"SENTRY_ENVIRONMENT must be {_NAME_RULE.format(64)}, not {environment!r}")
    if not release or len(release) > 200 or _BAD_NAME.search(release) or release in (".", "..", "None"):
        errors.append(f"COINPILOT_RELEASE must be {_NAME_RULE.format(200)}, not {release!r}")
    if errors:
        raise ImproperlyConfigured("; ".join(errors) + " (see .env.example)")


def init_error_tracking(*, dsn: str, environment: str, release: str, scrub_values_of: str) -> bool:
    """Start the Sentry SDK when `dsn` is set; `scrub_values_of` names a function listing every
    configured secret (imported on the first event, when the settings are ready). True if started."""
    check_error_tracking(dsn, environment, release)
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.rq import RqIntegration
    from sentry_sdk.utils import Dsn

    global _secret_values, _dsn_secrets
    _secret_values = lambda: import_string(scrub_values_of)()  # noqa: E731
    parsed = Dsn(dsn)
    _dsn_secrets = tuple(v for v in (dsn, parsed.public_key, parsed.secret_key) if v)
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        # A traceback's local variables may hold a request body, an order or a key in a form
        # scrubbing cannot recognise: the stack is reported without them.
        include_local_variables=False,
        before_send=before_send,
    )
    return True


def tag_process(name: str) -> None:
    """Tag every event of this process with what it is (worker, scheduler); no-op without a DSN."""
    import sentry_sdk

    sentry_sdk.get_global_scope().set_tag("process", name)


def before_send(event: dict, hint: dict) -> dict:
    """Add the log context as tags; drop any request body; replace every secret value."""
    exc_info = (hint or {}).get("exc_info")
    context = current() | context_of(exc_info[1] if exc_info else None)  # where it was raised wins
    tags = event.setdefault("tags", {})
    for name, value in context.items():
        tags.setdefault(name, value[:TAG_MAX_CHARS])
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
    secrets = secrets_to_scrub()
    return scrub(event, secrets) if secrets else event


def secrets_to_scrub() -> list[str]:
    """Every configured secret value and the DSN's parts, longest first (a URL before its token)."""
    values = {str(v) for v in (*_secret_values(), *_dsn_secrets) if v and len(str(v)) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


def scrub(value, secrets: list[str]):
    """`value` (any JSON-like structure) with every secret in any string, key or value, replaced."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        return value
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, secrets) for v in value)
    return value
