"""Pages and endpoints of the operations layer: health, metrics, the System page."""

import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from . import system


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose: 200 when the database and Redis answer, else 503."""
    checks = {"database": system.check_database(), "redis": system.check_redis()}
    healthy = all(error is None for error in checks.values())
    body = {name: "ok" if error is None else f"down: {error}" for name, error in checks.items()}
    body["status"] = "ok" if healthy else "down"
    return JsonResponse(body, status=200 if healthy else 503)


@login_not_required
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint: from loopback, or with `Authorization: Bearer $METRICS_TOKEN`."""
    if not (_from_loopback(request) or _has_metrics_token(request)):
        return HttpResponseForbidden("metrics: loopback or bearer token only\n")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # web and every worker process
    for path in settings.COINPILOT_METRICS_COLLECTORS:
        registry.register(import_string(path)())  # gauges read from the database now
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _from_loopback(request: HttpRequest) -> bool:
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False  # came through a proxy: the peer address says nothing about the client
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _has_metrics_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    return bool(token) and request.headers.get("Authorization", "") == f"Bearer {token}"


def system_page(request: HttpRequest) -> HttpResponse:
    redis_error = system.check_redis()
    context = {
        "database_error": system.check_database(),
        "redis_error": redis_error,
        "jobs": system.job_health(),
        "notifications": system.notifications_summary(),
    }
    if redis_error is None:  # without Redis there is no scheduler, worker or queue to show
        context |= {
            "scheduler": system.scheduler_status(),
            "workers": system.workers(),
            "queues": system.queues(),
        }
    return render(request, "coinpilot_site/system.html", context)
