"""Who may call the API: a bearer token (read or control scope), or the browser session for GETs.

Every refusal says what to do in the operator's terms; the token itself is never logged or echoed.
"""

from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer, SessionAuth

from . import tokens
from .models import AccessToken

CONTROL_PERMISSION = "trading.change_tradingcontrol"  # what the admin asks for to turn the kill switch

MISSING = "no API token: send 'Authorization: Bearer <token>' (create a token in the admin under API tokens)"
INVALID = "the API token is not valid: unknown, mistyped or revoked, or its user is inactive"
READ_ONLY = "this token may only read: control actions need a token with scope 'control'"


class TokenAuth(HttpBearer):
    """`Authorization: Bearer cp_...`; `scope` is the least scope the endpoint needs."""

    def __init__(self, scope: str = AccessToken.Scope.READ) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest):
        # HttpBearer logs a malformed header under DEBUG; the header may hold a secret, so not here.
        scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            return None  # the session may still read; else ninja refuses (views.py words it as MISSING)
        if scheme.lower() != "bearer":
            raise AuthenticationError(401, f"{MISSING}; the header does not start with 'Bearer '")
        return self.authenticate(request, plain.strip())

    def authenticate(self, request: HttpRequest, token: str):
        found = tokens.find_token(token)
        if found is None:
            raise AuthenticationError(401, INVALID)
        if self.scope == AccessToken.Scope.CONTROL:
            if found.scope != AccessToken.Scope.CONTROL:
                raise AuthorizationError(403, READ_ONLY)
            if not found.user.has_perm(CONTROL_PERMISSION):
                raise AuthorizationError(
                    403,
                    f"the token's user '{found.user.get_username()}' may not change trading controls "
                    f"(permission {CONTROL_PERMISSION})",
                )
        tokens.touch(found)
        request.api_token = found
        return found.user


class SessionRead(SessionAuth):
    """A signed-in browser may read (GET) as the pages do; it never reaches a control action."""

    def authenticate(self, request: HttpRequest, key):
        if request.method in ("GET", "HEAD") and request.user.is_authenticated:
            return request.user
        return None


READ = [TokenAuth(AccessToken.Scope.READ), SessionRead()]  # a token sent is the one checked
CONTROL = [TokenAuth(AccessToken.Scope.CONTROL)]
