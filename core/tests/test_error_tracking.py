"""Error tracking (SENTRY_DSN): the real SDK in real web, worker and scheduler processes reports to
a fake Sentry (tests/fakes/sentry.py) with release, environment and tags, and no secret, request
body or local variable. The same web and worker processes print LOG_FORMAT=json lines."""

import gzip
import json
import subprocess
import sys

import django_rq
import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from conftest import ROOT, manage_command, real_services_configured
from core import errors
from core.logging_context import log_context
from core.tests.observability import SYMBOL
from core.tests.test_json_logs import lines_of, start_env
from tests.fakes.sentry import PROJECT_ID, PUBLIC_KEY, FakeSentry
from tests.web_server import PLAIN_HTTP, gunicorn, server_env

ANTHROPIC_KEY = "sk-ant-observability-test-0123456789"
UPBIT_SECRET = "upbit-secret-observability-abcdef0123"
WEBHOOK = "http://127.0.0.1:9/api/webhooks/1/discord-token-observability-xyz"
BODY_MARKER = "order-body-marker-5f3c2a"
RELEASE, ENVIRONMENT = "coinpilot@test-7", "ci-test"


def tracking_env(sentry: FakeSentry) -> dict:
    return {
        "SENTRY_DSN": sentry.dsn,
        "SENTRY_ENVIRONMENT": ENVIRONMENT,
        "COINPILOT_RELEASE": RELEASE,
        "LOG_FORMAT": "json",
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "UPBIT_SECRET_KEY": UPBIT_SECRET,
        "DISCORD_WEBHOOK_URL": WEBHOOK,
    }


def assert_no_secret_in(sentry: FakeSentry, secret_key: str) -> None:
    """No secret (nor the request body) in any item of any envelope the fake accepted."""
    sent = b"".join(payload for _, items in sentry.envelopes for _, payload in items).decode()
    for secret in (ANTHROPIC_KEY, UPBIT_SECRET, WEBHOOK, WEBHOOK.rsplit("/", 1)[1], secret_key, PUBLIC_KEY):
        assert secret not in sent
    assert BODY_MARKER not in sent


@pytest.fixture
def sentry():
    with FakeSentry() as server:
        yield server


@pytest.fixture
def web_env(request, tmp_path) -> dict:
    """Environment for a test gunicorn (tests/web_server.py) in either test mode. Its views need no
    tables: the embedded mode's SQLite file is left unmigrated (a migrate costs seconds)."""
    if real_services_configured():
        return server_env(True, request.getfixturevalue("subprocess_env"), tmp_path)
    return start_env(
        **PLAIN_HTTP, DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}", COINPILOT_VAR_DIR=str(tmp_path)
    )


NO_DSN_THEN_DSN = """
import logging, sys, django, sentry_sdk
django.setup()
from django.conf import settings
from core.errors import init_error_tracking
logging.getLogger("x").error("without a DSN")
sentry_sdk.flush(2)
print("active:", sentry_sdk.get_client().is_active())
scrub = "coinpilot_site.error_reports.secret_values"
init_error_tracking(dsn=sys.argv[1], environment="x", release="y", scrub_values_of=scrub)
logging.getLogger("x").error("with a DSN")
sentry_sdk.flush(5)
"""


def test_nothing_is_started_or_sent_without_a_dsn(sentry):
    # One process: settings without SENTRY_DSN, then the same process given one (the fake is reachable).
    done = subprocess.run(
        [sys.executable, "-c", NO_DSN_THEN_DSN, sentry.dsn],
        cwd=ROOT,
        env=start_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "active: False" in done.stdout
    assert [e["logentry"]["message"] for e in sentry.wait_for_events(1)] == ["with a DSN"]


def test_a_bad_dsn_environment_or_release_stops_the_start_naming_each_variable():
    with pytest.raises(ImproperlyConfigured) as caught:
        errors.check_error_tracking("https://sentry.example.com/1", "prod env", "a/b")
    message = str(caught.value)
    assert "SENTRY_DSN is not a Sentry DSN" in message and "sentry.example.com" not in message
    assert "SENTRY_ENVIRONMENT must be" in message and "COINPILOT_RELEASE must be" in message
    errors.check_error_tracking("https://k@o1.ingest.sentry.io/5", "production", "coinpilot@0.1.0")

    env = start_env(SENTRY_DSN="ftp://key@127.0.0.1/1")
    done = subprocess.run(manage_command("check"), env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "SENTRY_DSN is not a Sentry DSN" in done.stderr
    assert "Traceback" not in done.stderr and "ftp://" not in done.stderr


def test_the_release_defaults_to_the_project_version(settings):
    assert settings.COINPILOT_RELEASE == errors.default_release(settings.BASE_DIR) == "coinpilot@0.1.0"


def test_before_send_scrubs_every_secret_drops_the_body_and_tags_the_context(settings, monkeypatch):
    settings.ANTHROPIC_API_KEY, settings.DISCORD_WEBHOOK_URL = ANTHROPIC_KEY, WEBHOOK
    monkeypatch.setattr(
        errors, "_secret_values", errors.import_string("coinpilot_site.error_reports.secret_values")
    )
    monkeypatch.setattr(errors, "_dsn_secrets", ("dsn-public-key-0123",))
    try:
        with log_context(job_name="bot_cycle", symbol=SYMBOL):
            raise RuntimeError(f"refused {ANTHROPIC_KEY} at {WEBHOOK}")
    except RuntimeError as exc:
        exc_info = (type(exc), exc, exc.__traceback__)
    event = {
        "exception": {"values": [{"type": "RuntimeError", "value": str(exc_info[1])}]},
        "breadcrumbs": {"values": [{"message": f"posting to token {WEBHOOK.rsplit('/', 1)[1]}"}]},
        "request": {"url": "http://x/boom/", "data": BODY_MARKER, "cookies": {"sessionid": "abc"}},
        "extra": {settings.SECRET_KEY: ("dsn-public-key-0123",)},
    }
    with log_context(request_id="req-9"):
        sent = errors.before_send(event, {"exc_info": exc_info})
    dumped = json.dumps(sent)
    for secret in (
        ANTHROPIC_KEY,
        WEBHOOK,
        WEBHOOK.rsplit("/", 1)[1],
        settings.SECRET_KEY,
        "dsn-public-key-0123",
    ):
        assert secret not in dumped
    assert sent["exception"]["values"][0]["value"] == "refused [Filtered] at [Filtered]"
    assert "data" not in sent["request"] and "cookies" not in sent["request"]
    # the symbol of where it was raised, though the report is made after that context ended
    assert sent["tags"] == {"job_name": "bot_cycle", "symbol": SYMBOL, "request_id": "req-9"}


def test_the_fake_reads_plain_and_gzip_envelopes_and_refuses_a_wrong_key(sentry):
    event = json.dumps({"event_id": "e1", "message": "hi"}).encode()
    envelope = b'{"event_id":"e1"}\n' + b'{"type":"event","length":%d}\n' % len(event) + event + b"\n"
    url = f"{sentry.base_url}/api/{PROJECT_ID}/envelope/"
    auth = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={PUBLIC_KEY}"}
    assert httpx.post(url, content=envelope, headers=auth).status_code == 200
    zipped = auth | {"Content-Encoding": "gzip"}
    assert httpx.post(url, content=gzip.compress(envelope), headers=zipped).status_code == 200
    wrong = {"X-Sentry-Auth": "Sentry sentry_key=nope"}
    assert httpx.post(url, content=envelope, headers=wrong).status_code == 401
    assert httpx.post(url, content=b"not json\n", headers=auth).status_code == 400
    assert [e["message"] for e in sentry.events] == ["hi", "hi"]


@pytest.mark.django_db(transaction=True)
def test_a_view_error_reaches_sentry_with_its_request_id_and_the_web_logs_json(sentry, web_env, tmp_path):
    env = web_env | tracking_env(sentry)
    env |= {"DJANGO_SETTINGS_MODULE": "core.tests.observability_settings", "GUNICORN_WORKERS": "1"}
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log) as url:
        answer = httpx.post(
            f"{url}/boom/", content=BODY_MARKER, headers={"X-Request-ID": "boom-req-1"}, timeout=30
        )
        assert answer.status_code == 500 and answer.headers["X-Request-ID"] == "boom-req-1"
        (event,) = [e for e in sentry.wait_for_events(1) if e.get("exception")]
    assert event["release"] == RELEASE and event["environment"] == ENVIRONMENT
    assert event["tags"]["request_id"] == "boom-req-1"
    assert event["exception"]["values"][-1]["value"] == "the AI provider refused key [Filtered]"
    assert event["request"]["url"].endswith("/boom/") and "data" not in event["request"]
    assert_no_secret_in(sentry, env["SECRET_KEY"])

    printed = log.read_text()
    assert "the AI provider refused key [Filtered]" in printed and ANTHROPIC_KEY not in printed
    lines = lines_of(printed)  # every line JSON: Django's, gunicorn's, warnings
    ours = {line["logger"] for line in lines if line.get("request_id") == "boom-req-1"}
    assert ours == {"coinpilot.observability", "django.request"}
    assert any(line["logger"] == "gunicorn.access" for line in lines)


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_a_worker_job_error_reaches_sentry_with_job_and_symbol_and_the_worker_logs_json(
    sentry, spawn, subprocess_env, tmp_path
):
    queue = django_rq.get_queue("default")
    failing = queue.enqueue("core.tests.observability.failing_job")
    logging_job = queue.enqueue("core.tests.observability.logging_job")
    worker = spawn("rqworker", "default", "--burst", env=subprocess_env | tracking_env(sentry))
    assert worker.wait(timeout=60) == 0
    (event,) = [e for e in sentry.wait_for_events(1) if e.get("exception")]
    assert event["release"] == RELEASE and event["environment"] == ENVIRONMENT
    tags = event["tags"]
    assert tags["job_name"] == "core.tests.observability.failing_job" and tags["job_id"] == failing.id
    assert tags["symbol"] == SYMBOL and tags["process"] == "worker"
    assert event["exception"]["values"][-1]["value"] == "exchange refused the request signed with [Filtered]"
    assert_no_secret_in(sentry, subprocess_env["SECRET_KEY"])

    printed = next(tmp_path.glob("rqworker-*.log")).read_text()
    assert "signed with [Filtered]" in printed and UPBIT_SECRET not in printed  # rq logs the traceback
    lines = lines_of(printed)
    (said,) = [line for line in lines if line["message"] == "observability job says hello"]
    assert said["job_id"] == logging_job.id and said["job_name"] == "core.tests.observability.logging_job"


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_a_scheduler_error_reaches_sentry_tagged_with_the_job_it_was_deciding(sentry, spawn, subprocess_env):
    env = subprocess_env | tracking_env(sentry) | {"COINPILOT_SCHEDULE": "core.tests.observability.BROKEN"}
    spawn("run_scheduler", env=env)
    event = next(e for e in sentry.wait_for_events(1, timeout=60) if e.get("exception"))
    assert event["release"] == RELEASE and event["logger"] == "core.scheduling"
    assert event["tags"]["job_name"] == "broken_queue" and event["tags"]["process"] == "scheduler"
    assert event["exception"]["values"][-1]["type"] == "KeyError"
    assert_no_secret_in(sentry, subprocess_env["SECRET_KEY"])
