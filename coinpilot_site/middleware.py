"""Server-Timing on every response: the time the server spent, readable in the browser's network
panel and by bench/bench_pages.py (which measures the issue's server-time target from it)."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def server_timing(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        # A streamed body (CSV export, chat answer) is timed up to its first byte.
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return middleware
