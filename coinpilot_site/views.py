"""Pages and endpoints of the operations layer: health, metrics, the System page."""

import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from agents.models import AgentDecision
from agents.status import guardrail_state, scorecard
from analytics.fill_drift import latest_summary as fill_drift_summary
from core import system
from core.caching import cached, cached_page, newest_id
from market.models import Regime, RegimeHistory
from trading.config import load_strategy


@login_not_required
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages without an icon link (the admin, JSON)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose: 200 when the database and Redis answer, else 503.

    Anyone sees "ok" / "down" per component; why one is down (error text that may name hosts) only
    staff and loopback callers."""
    checks = {"database": system.check_database(), "redis": system.check_redis()}
    healthy = all(error is None for error in checks.values())
    detailed = request.user.is_staff or _from_loopback(request)
    body = {
        name: "ok" if error is None else (f"down: {error}" if detailed else "down")
        for name, error in checks.items()
    }
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
    sent = request.headers.get("Authorization", "").encode()
    return bool(token) and hmac.compare_digest(sent, f"Bearer {token}".encode())  # constant time


def system_page(request: HttpRequest) -> HttpResponse:
    redis_error = system.check_redis()
    context = {
        "database_error": system.check_database(),
        "redis_error": redis_error,
        "jobs": system.job_health(),
    }
    if redis_error is None:  # without Redis there is no scheduler, worker, queue or guardrail to show
        context |= {
            "scheduler": system.scheduler_status(),
            "workers": system.workers(),
            "queues": system.queues(),
            "ai": guardrail_state(list(load_strategy().symbols)),
        }
    newest_decision = newest_id(AgentDecision)
    context |= ai_decisions_context(request, newest_decision) | {
        "notifications": system.notifications_summary(),
        "scorecard": cached(
            f"scorecard-30d:{newest_decision}",
            lambda: scorecard(since=timezone.now() - timedelta(days=30)),
        ),
        # plain rows: what the table shows, fingerprinted whole by its cached fragment
        "regimes": RegimeHistory.objects.order_by("-created_at").values(
            "created_at", "coin_symbol", "regime", "ma50", "ma200", "diff_pct"
        )[:20],
        "fill_drift": fill_drift_summary(),
    }
    return render(request, "coinpilot_site/system.html", context)


def ai_decisions_context(request: HttpRequest, newest_decision: int) -> dict:
    """The AI decision log, filtered by decision and regime, paginated (the count read again after
    `newest_decision`, the newest decision's id, changes)."""
    decisions = AgentDecision.objects.order_by("-created_at")
    shown = {}
    for name in ("decision", "regime"):
        value = request.GET.get(name, "")
        if value in dict(AgentDecision._meta.get_field(name).choices):
            decisions = decisions.filter(**{name: value})
            shown[name] = value
    filters = ":".join(shown.get(name, "") for name in ("decision", "regime"))
    count_key = f"decision-count:{filters}:{newest_decision}"
    page = cached_page(decisions, 25, request.GET.get("page"), count_key=count_key)
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "decisions": page,
        # What the shown rows are made of, without reading them: the log is append-only (the
        # admin cannot edit it; the scorecard's later prices are not shown), so a page of it
        # changes only with a new decision.
        "decision_rows_key": f"{filters}:{page.number}:{newest_decision}",
        "decision_filters": shown,
        "query": params.urlencode(),
        "decision_choices": AgentDecision.Decision.values,
        "regime_choices": Regime.values,
    }
