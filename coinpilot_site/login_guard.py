"""Login rate limiting: repeated failures lock the username and the client address out for a while.

Counters live in Redis (shared by every web process) and expire on their own; a successful login
clears the username's counter. Both keys count, so spraying many usernames from one address and
guessing one username from many addresses are both stopped.
"""

import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .redis_conn import get_redis


def _keys(request: HttpRequest, username: str) -> list[str]:
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]  # no usernames in Redis
    address = request.META.get("REMOTE_ADDR", "unknown")
    return [f"login:fail:user:{user}", f"login:fail:ip:{address}"]


def locked_out(request: HttpRequest, username: str) -> bool:
    counts = get_redis().mget(_keys(request, username))
    return any(int(c or 0) >= settings.LOGIN_MAX_FAILURES for c in counts)


def record_failure(request: HttpRequest, username: str) -> None:
    pipe = get_redis().pipeline()
    for key in _keys(request, username):
        pipe.incr(key)
        pipe.expire(key, settings.LOGIN_LOCKOUT_SECONDS)
    pipe.execute()


def clear(request: HttpRequest, username: str) -> None:
    get_redis().delete(_keys(request, username)[0])


class LockoutMixin:
    """For authentication forms: refuse while locked out, count failures, clear on success."""

    lockout_message = "Too many failed attempts. Try again in %(minutes)d minutes."

    def clean(self):
        username = self.data.get("username", "")
        if locked_out(self.request, username):
            raise ValidationError(
                self.lockout_message,
                code="locked_out",
                params={"minutes": settings.LOGIN_LOCKOUT_SECONDS // 60},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failure(self.request, username)
            raise
        clear(self.request, username)
        return cleaned


class GuardedAuthenticationForm(LockoutMixin, AuthenticationForm):
    pass


class GuardedAdminAuthenticationForm(LockoutMixin, AdminAuthenticationForm):
    pass


class GuardedLoginView(auth_views.LoginView):
    form_class = GuardedAuthenticationForm
