"""Creating, checking and revoking API tokens, as plain functions (no request needed).

A token is `cp_` + 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored: the
secret has 256 bits, so a fast hash is enough (no password stretching) and lookup is one index
probe. The plain token exists only in the return value of `create_token`.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from .models import AccessToken

PREFIX = "cp_"
SHOWN_PREFIX = 10  # "cp_" and 7 characters: enough to tell tokens apart in the admin
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most once a minute per token


def digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def create_token(*, user, name: str, scope: str) -> tuple[AccessToken, str]:
    """A new token for `user`: the stored row (hash only) and the plain token, to show once."""
    plain = PREFIX + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        user=user, name=name, scope=scope, prefix=plain[:SHOWN_PREFIX], digest=digest(plain)
    )
    return token, plain


def find_token(plain: str) -> AccessToken | None:
    """The active token whose secret is `plain` (its user active too), else None."""
    if not plain.startswith(PREFIX) or len(plain) > 100:
        return None
    token = AccessToken.objects.select_related("user").filter(digest=digest(plain), revoked_at=None).first()
    if token is None or not token.user.is_active:
        return None
    return token


def touch(token: AccessToken, now: datetime | None = None) -> None:
    """Record that the token was used (at most once a minute: no write per request)."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        AccessToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at=None) | Q(last_used_at__lte=now - TOUCH_EVERY)
        ).update(last_used_at=now)
        token.last_used_at = now


def revoke(tokens, now: datetime | None = None) -> int:
    """Revoke the tokens of the queryset that are still active; the number revoked."""
    return tokens.filter(revoked_at=None).update(revoked_at=now or timezone.now())
