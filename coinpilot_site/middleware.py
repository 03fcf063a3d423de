"""Server-Timing on every response: the time the server spent, readable in the browser's network
panel and by bench/bench_pages.py (which measures the issue's server-time target from it).
X-Request-ID on every response: the id every log line and error report of the request carries."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from core import i18n
from core.logging_context import log_context, request_id_from


def request_id(get_response: Callable[[HttpRequest], HttpResponse]):
    """Take a sane X-Request-ID from the client (or a proxy), else make one; echo it back."""

    def middleware(request: HttpRequest) -> HttpResponse:
        rid = request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = rid
        with log_context(request_id=rid):
            response = get_response(request)
        response["X-Request-ID"] = rid
        return response

    return middleware


def server_timing(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        # A streamed body (CSV export, chat answer) is timed up to its first byte.
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return middleware


def preferred_language(get_response: Callable[[HttpRequest], HttpResponse]):
    """A signed-in user's saved language (the language menu) over the cookie and Accept-Language.

    Runs after LocaleMiddleware, which has picked from cookie / Accept-Language / the default. The
    preference is read from the session (copied there at sign-in and when changed): no query a request."""

    def middleware(request: HttpRequest) -> HttpResponse:
        language = (
            i18n.supported(request.session.get(i18n.SESSION_KEY)) if hasattr(request, "session") else None
        )
        if language and language != request.LANGUAGE_CODE:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return get_response(request)

    return middleware
