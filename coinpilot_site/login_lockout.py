"""Login lock-out on top of django-axes: counted before the password is checked, one log line per lock.

Axes' database handler checks the failure count before the password is checked and adds the
failure after it: parallel wrong passwords all pass the check before any failure is stored (16
of 30 parallel ones were checked on a limit of 5). Here the check and the count are one step,
serialised per username and client address: each attempt takes one of the limit's slots first, so
never more than `LOGIN_MAX_FAILURES` passwords of one username from one address are checked per
lock-out window.
A success deletes the count (AXES_RESET_ON_SUCCESS); a failure keeps the slot it took.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext

log = logging.getLogger(__name__)


class CountFirstHandler(AxesDatabaseHandler):
    """Axes' database handler whose check also counts the attempt, atomically."""

    def is_allowed(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        with _serialized(request, credentials):
            if not super().is_allowed(request, credentials):
                return False
            self.clean_expired_user_attempts(request, credentials)  # an old row must not add its count
            _add_failure(request, credentials, +1)
            # This attempt took the last slot: if it fails, it is the one that starts the lock-out.
            request.axes_last_slot = self.get_failures(request, credentials) >= settings.AXES_FAILURE_LIMIT
        request.axes_counted = True
        return True

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        if request is None or not getattr(request, "axes_counted", False):
            return super().user_login_failed(sender, credentials, request, **kwargs)
        # Axes adds the failure again: give the slot back in the same step, so nobody sees the gap.
        with _serialized(request, credentials):
            _add_failure(request, credentials, -1)
            super().user_login_failed(sender, credentials, request, **kwargs)
        return None


@contextmanager
def _serialized(request: HttpRequest, credentials: dict | None) -> Iterator[None]:
    """A transaction that no other attempt on the same username and address runs beside.

    PostgreSQL: an advisory lock on the pair until commit. SQLite: the settings open every
    transaction IMMEDIATE, which already takes the database's single write lock."""
    alias = router.db_for_write(AccessAttempt)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            key = f"{get_client_username(request, credentials)}\n{request.axes_ip_address}"
            lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        yield


def _add_failure(request: HttpRequest, credentials: dict | None, delta: int) -> None:
    """Add `delta` to this client's attempt row (created with one failure when missing)."""
    attempt, created = AccessAttempt.objects.get_or_create(
        username=get_client_username(request, credentials),
        ip_address=request.axes_ip_address,
        user_agent=request.axes_user_agent,
        defaults={
            "get_data": "",
            "post_data": "",
            "http_accept": request.axes_http_accept,
            "path_info": request.axes_path_info,
            "failures_since_start": max(delta, 0),
            "attempt_time": request.axes_attempt_time,
        },
    )
    if not created:
        failures = F("failures_since_start") + delta
        AccessAttempt.objects.filter(pk=attempt.pk).update(failures_since_start=failures)


@receiver(user_locked_out)
def log_lockout(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    # Axes signals every refused attempt too, and every checked one once the limit is full; the
    # lock-out starts with the failure of the attempt that took the last slot.
    if getattr(request, "axes_last_slot", False):
        log.warning(
            "login lock-out: username %r from %s after %s failures; locked for %s (reset: manage.py "
            "axes_reset_username / axes_reset)",
            username,
            ip_address,
            getattr(request, "axes_failures_since_start", "?"),
            _cool_off_text(),
        )


def lockout_page(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The lock-out page (429), in the site's look, also for the admin's login."""
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "wait": cool_off_words()}
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def _cool_off_text() -> str:
    """The lock-out's length for the log (English, like every log line)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def cool_off_words() -> str:
    """The lock-out's length for the page, in the reader's language."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
