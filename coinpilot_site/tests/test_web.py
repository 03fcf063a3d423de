"""Health, metrics access, login protection and the System page."""

import json
from unittest import mock

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rq import Worker

from core.models import JobRun
from core.scheduling import HEARTBEAT_KEY

pytestmark = pytest.mark.django_db

# favicon: browsers ask before a login; the login page's language menu (POST only) and the
# JavaScript catalog its scripts read (translations, no data).
PUBLIC = {"healthz", "metrics", "login", "favicon", "set-language", "javascript-catalog"}


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("operator", password="correct-horse-battery")
    client.force_login(user)
    return user


def test_healthz_reports_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_healthz_is_503_when_redis_is_down(client):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    with mock.patch("core.system.get_redis", return_value=dead):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("down: ConnectionError")
    assert response.json()["database"] == "ok"


def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch("core.system.connection") as conn:
        conn.cursor.side_effect = OperationalError("connection refused")
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down: OperationalError: connection refused"


def test_metrics_are_readable_from_loopback_only(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forwarded.status_code == 403


def test_metrics_with_the_bearer_token_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200
    assert b"django_http_requests" in ok.content
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def all_url_names(resolver=None, prefix="") -> list[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += all_url_names(entry, prefix + str(entry.pattern))
        else:
            found.append((prefix + str(entry.pattern), entry))
    return found


def test_every_page_requires_login(client):
    checked = 0
    for route, pattern in all_url_names():
        if pattern.name in PUBLIC or route.startswith("admin/") or "<" in route or "(?P" in route:
            continue
        url = "/" + route.replace("^", "").replace("$", "").replace("/?", "/")
        response = client.get(url)
        assert response.status_code in (302, 401, 403), f"{url} answered {response.status_code} anonymously"
        if response.status_code == 302:
            assert "/login/" in response["Location"] or "/admin/login/" in response["Location"], url
        checked += 1
    assert checked >= 3


def test_login_page_and_login(client):
    get_user_model().objects.create_user("operator", password="correct-horse-battery")
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "operator", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/system/").status_code == 200


def test_system_page_shows_scheduler_worker_and_jobs(client, operator, redis_conn):
    redis_conn.set(HEARTBEAT_KEY, json.dumps({"at": timezone.now().isoformat(), "pid": 4242, "host": "box"}))
    worker = Worker(["bot", "default"], connection=redis_conn, name="worker-under-test")
    worker.register_birth()
    JobRun.objects.create(job="heartbeat", slot=timezone.now(), status="success", duration_ms=7)

    page = client.get("/system/").content.decode()

    assert "alive" in page and "pid 4242" in page
    assert "worker-under-test" in page and "bot, default" in page
    assert "heartbeat" in page and "7 ms" in page and "success" in page
    assert "paper trading" in page and "AI: off (no key)" in page


def test_system_page_says_when_nothing_is_running(client, operator):
    page = client.get("/system/").content.decode()
    assert "not running" in page  # scheduler
    assert "No worker is running" in page


def test_metrics_include_business_gauges_read_at_scrape_time(client):
    from trading.models import Position

    Position.objects.create(
        symbol="KRW-BTC",
        quantity=1,
        avg_price=100,
        regime="BULL",
        high_water_mark=100,
        opened_at=timezone.now(),
    )
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "coinpilot_active_positions 1.0" in body
    assert "coinpilot_total_pnl 0.0" in body and "coinpilot_kill_switch 0.0" in body


def test_system_page_shows_ai_usage_decisions_and_regimes(client, operator):
    from agents.models import AgentDecision
    from market.models import RegimeHistory

    AgentDecision.objects.create(
        symbol="KRW-ETH",
        decision="REJECTED",
        regime="BEAR",
        analyst_decision="REJECT",
        confidence=80,
        reasoning="falling knife below the lower band",
    )
    AgentDecision.objects.create(
        symbol="KRW-BTC",
        decision="APPROVED",
        regime="BULL",
        analyst_decision="CONFIRM",
        guardian_decision="SAFE",
        confidence=77,
        reasoning="clean bounce",
    )
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="BULL", diff_pct=3.2)
    page = client.get("/system/").content.decode()
    assert "AI: off (no key)" in page and "Calls today" in page
    assert "<td>$0.00 of $" in page and "0.000000" not in page  # cost as money
    assert "falling knife below the lower band" in page and "clean bounce" in page
    assert "Regime history" in page and "3.20" in page
    only_rejected = client.get("/system/?decision=REJECTED").content.decode()
    assert "falling knife" in only_rejected and "clean bounce" not in only_rejected


def test_the_favicon_is_served_to_pages_and_to_browsers_asking_for_favicon_ico(client):
    response = client.get("/favicon.ico")  # no login: browsers ask before anyone signs in
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    login = client.get("/login/").content.decode()
    assert 'rel="icon"' in login and "favicon.svg" in login


def test_the_queue_page_explains_its_empty_cron_scheduler_table(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-123456789"))
    page = client.get("/django-rq/").content.decode()
    assert 'id="coinpilot-scheduler-note"' in page and "manage.py run_scheduler" in page
    assert "Cron Schedulers" in page  # django-rq's own page, extended, not replaced
