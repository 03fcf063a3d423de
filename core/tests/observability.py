"""Jobs, views and a schedule table for the error-tracking and log tests, imported by the worker,
scheduler and gunicorn child processes too (core/tests/observability_settings.py serves the views)."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from coinpilot_site.views import healthz
from core.logging_context import log_context
from core.scheduling import Schedule

log = logging.getLogger("coinpilot.observability")
SYMBOL = "KRW-BTC"


def failing_job() -> None:
    """Fails inside a symbol's context, with a configured secret in its message and a local."""
    upbit_secret = settings.UPBIT_SECRET_KEY  # a local variable the error report must not show
    with log_context(symbol=SYMBOL):
        raise RuntimeError(f"exchange refused the request signed with {upbit_secret}")


def logging_job() -> str:
    log.info("observability job says hello")
    return "logged"


@csrf_exempt
@login_not_required
def boom(request: HttpRequest) -> HttpResponse:
    body = request.body.decode()  # a local holding the request body: it must not be reported
    log.info("boom view got %d bytes", len(body))
    raise RuntimeError(f"the AI provider refused key {settings.ANTHROPIC_API_KEY}")


urlpatterns = [path("boom/", boom), path("healthz", healthz)]

# The scheduler fails deciding this job's slot every second: its queue does not exist.
BROKEN = [
    Schedule(
        name="broken_queue", func="core.jobs.heartbeat", cron="* * * * * *", queue="no-such-queue", grace=5
    )
]
