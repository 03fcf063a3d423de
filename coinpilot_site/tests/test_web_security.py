"""Web security: /healthz detail only for staff and loopback, the metrics token compared in constant
time, the Content-Security-Policy header, error reports that show no secret."""

import sys
from unittest import mock

import pytest
import redis
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from coinpilot_site import views

pytestmark = pytest.mark.django_db

WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/wEbHoOk-ToKeN_abcdefghijklmnopqrstuvwxyz"
TYPE_WEBHOOK = "https://discord.com/api/webhooks/223456789012345678/RiSk-ToKeN_abcdefghijklmnopqrstuvwxyz"
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-very-secret-anthropic-key",
    "OPENAI_API_KEY": "sk-proj-very-secret-openai-key",
    "UPBIT_ACCESS_KEY": "upbit-access-key-0123456789",
    "UPBIT_SECRET_KEY": "upbit-secret-key-0123456789",
    "METRICS_TOKEN": "metrics-bearer-token-0123456789",
    "DISCORD_WEBHOOK_URL": WEBHOOK,
    "TELEGRAM_BOT_TOKEN": "123456:telegram-bot-token-abcdef",
    "SENTRY_DSN": "https://sentrypublickey0123@o1.ingest.sentry.io/42",
}


def redis_down():
    return mock.patch(
        "core.system.get_redis",
        return_value=redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2),
    )


def test_healthz_tells_strangers_only_ok_or_down(client):
    with redis_down():
        response = client.get("/healthz", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "down", "status": "down"}


def test_healthz_behind_a_proxy_is_not_loopback(client):
    with redis_down():
        body = client.get("/healthz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").json()
    assert body["redis"] == "down"


def test_healthz_tells_loopback_and_staff_why(client):
    with redis_down():
        local = client.get("/healthz", REMOTE_ADDR="127.0.0.1").json()
        client.force_login(
            get_user_model().objects.create_user("ops", password="pw-ops-12345", is_staff=True)
        )
        staff = client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()
    assert local["redis"].startswith("down: ConnectionError")
    assert staff["redis"].startswith("down: ConnectionError")


def test_healthz_tells_a_logged_in_non_staff_user_only_ok_or_down(client):
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-12345"))
    with redis_down():
        assert client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()["redis"] == "down"


def test_the_metrics_token_is_compared_in_constant_time(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    with mock.patch.object(views.hmac, "compare_digest", wraps=views.hmac.compare_digest) as compare:
        near = client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape-tokeX"
        )
        ok = client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
        )
    assert (near.status_code, ok.status_code) == (403, 200)
    assert [c.args for c in compare.call_args_list] == [
        (b"Bearer s3cret-scrape-tokeX", b"Bearer s3cret-scrape-token"),
        (b"Bearer s3cret-scrape-token", b"Bearer s3cret-scrape-token"),
    ]


def test_no_token_configured_means_no_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_every_page_has_a_strict_content_security_policy(client):
    client.force_login(get_user_model().objects.create_superuser("admin", password="pw-admin-12345"))
    for url in ("/login/", "/", "/market/", "/ask/", "/admin/"):
        policy = client.get(url)["Content-Security-Policy"]
        script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert (
            "'self'" in script_src and "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        )
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def technical_report(request) -> tuple[str, str]:
    """The DEBUG error page (HTML) and the text report for an exception raised with secrets around."""
    webhook_in_a_local_variable = WEBHOOK  # noqa: F841  (the report shows the frame's variables)
    try:
        raise RuntimeError(f"posting to {WEBHOOK} failed")
    except RuntimeError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        return reporter.get_traceback_html(), reporter.get_traceback_text()


def test_the_error_report_shows_no_secret(settings, monkeypatch):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.DISCORD_WEBHOOK_URLS = {"risk": TYPE_WEBHOOK, "trade": ""}
    database_url = "postgres://coinpilot:db-password-0123456789@db.internal:5432/coinpilot"
    redis_url = "redis://:redis-password-0123456789@redis.internal:6379/0"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.DEBUG = True
    # runserver copies the process environment into the request's (shown as META in the report)
    meta = {"DISCORD_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    request = RequestFactory().post("/ask/question", {"question": "hi"}, **meta)
    request.user = mock.Mock(is_authenticated=False)
    html, text = technical_report(request)
    assert "RuntimeError" in html and "webhook_in_a_local_variable" in html  # a real report
    secrets = [*SECRETS.values(), TYPE_WEBHOOK, "db-password-0123456789", "redis-password-0123456789"]
    secrets += [
        WEBHOOK.rsplit("/", 1)[-1],
        settings.SECRET_KEY,
    ]
    for report in (html, text):
        leaked = [secret for secret in secrets if secret in report]
        assert leaked == []
    assert "DISCORD_WEBHOOK_URL" in html and "********************" in html  # named, masked
