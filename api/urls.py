"""`/api/v1/`: the token API's own checks replace the site's login redirect."""

from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from ninja.errors import HttpError

from .auth import MISSING, TokenAuth
from .views import api


def refusal(request: HttpRequest) -> JsonResponse | None:
    """401 JSON unless the request comes with the site's session or a valid token of any scope."""
    if request.user.is_authenticated and "Authorization" not in request.headers:
        return None
    try:
        if TokenAuth()(request) is not None:
            return None
        status, error = 401, MISSING
    except HttpError as exc:
        status, error = exc.status_code, str(exc)
    response = JsonResponse({"error": error, "problems": {}}, status=status)
    response["WWW-Authenticate"] = 'Bearer realm="coinpilot"'
    return response


def signed_in_or_token(view):
    """The OpenAPI document and the root: for the site's session or any valid token."""

    @login_not_required
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs):
        return refusal(request) or view(request, *args, **kwargs)

    return checked


def json_405(view):
    """A wrong method: ninja answers 405 before anyone is asked who they are; say who first, in JSON."""

    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code != 405:
            return response
        allowed = response.get("Allow", "")
        wrong = JsonResponse(
            {"error": f"{request.method} is not allowed here: use {allowed}", "problems": {}}
        )
        wrong.status_code, wrong["Allow"] = 405, allowed
        return refusal(request) or wrong

    return login_not_required(checked)  # each endpoint authenticates itself (api/auth.py)


def home(request: HttpRequest, **kwargs) -> JsonResponse:
    """What `/api/v1/` answers (ninja's own root view is a bare 404; its name stays for reverse())."""
    return JsonResponse({"api": api.title, "version": api.version, "openapi": f"{request.path}openapi.json"})


@login_not_required
def not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return JsonResponse(
        {"error": f"no API endpoint /api/v1/{rest}: see /api/v1/openapi.json", "problems": {}}, status=404
    )


def _patterns():
    patterns, *_ = api.urls
    for pattern in patterns:
        if pattern.name == "api-root":
            pattern.callback = signed_in_or_token(home)
        elif pattern.name == "openapi-json":
            pattern.callback = signed_in_or_token(pattern.callback)
        elif pattern.name != "openapi-view":  # the docs page stays behind the site login
            pattern.callback = json_405(pattern.callback)
    return [*patterns, re_path(r"^(?P<rest>.*)$", not_found)]


urlpatterns = _patterns()
app_name = "api-v1"
