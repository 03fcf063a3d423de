"""Production refuses to start misconfigured: store URLs, Redis eviction, numeric settings.

The checks run in child processes with the production settings module (as `manage.py` and
gunicorn would), against a Redis server of this test's own where its configuration is changed.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis
from django.test import override_settings

from conftest import ROOT
from core.checks import production_stores, redis_never_evicts
from core.env_bounds import NUMBERS, number_errors

from .test_settings import PRODUCTION_ENV, run_manage

# DATABASE_URL is only parsed by `check`: no connection is made.
PRODUCTION_STORES = {"DATABASE_URL": "postgres://coinpilot@127.0.0.1:5432/coinpilot"}
NO_STORES = {"DATABASE_URL": "", "REDIS_URL": ""}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def own_redis():
    """A redis-server of this module's own (its configuration is changed here, never the shared one's)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed here")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    process.terminate()
    process.wait(timeout=10)


def test_deploy_checks_pass_with_production_settings(tmp_path, own_redis):
    redis.Redis.from_url(own_redis).config_set("maxmemory-policy", "noeviction")
    env = PRODUCTION_ENV | PRODUCTION_STORES | {"REDIS_URL": own_redis}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [("check",), ("check", "--deploy")])
def test_empty_store_urls_are_refused_with_debug_off(tmp_path, command):
    result = run_manage(*command, env=PRODUCTION_ENV | NO_STORES, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "coinpilot.E003" in result.stderr and "REDIS_URL is empty" in result.stderr
    assert "coinpilot.E004" in result.stderr and "DATABASE_URL is empty" in result.stderr


def test_a_worker_refuses_to_start_without_store_urls(tmp_path):
    result = run_manage("rqworker", "bot", "--burst", env=PRODUCTION_ENV | NO_STORES, tmp_path=tmp_path)
    assert result.returncode != 0 and "coinpilot.E003" in result.stderr


def test_the_web_server_refuses_to_start_without_store_urls(tmp_path):
    # gunicorn imports the WSGI module and runs no system checks of its own.
    env = {"DEBUG": "0", "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"], "COINPILOT_VAR_DIR": str(tmp_path)}
    env |= {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings"} | NO_STORES
    result = subprocess.run(
        [sys.executable, "-c", "import coinpilot_site.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "coinpilot.E003" in result.stderr


def test_the_embedded_default_must_be_asked_for_explicitly(tmp_path):
    result = run_manage(
        "check", env=PRODUCTION_ENV | NO_STORES | {"COINPILOT_EMBEDDED": "1"}, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("embedded", "redis_url", "sqlite", "expected"),
    [
        (True, "", True, []),
        (False, "redis://r:6379/0", False, []),
        (False, "redis://r:6379/0", True, ["coinpilot.E004"]),
        (False, "", False, ["coinpilot.E003"]),
        (False, "", True, ["coinpilot.E003", "coinpilot.E004"]),
    ],
)
def test_production_stores_check(monkeypatch, embedded, redis_url, sqlite, expected):
    monkeypatch.setattr("core.checks._database_is_sqlite", lambda: sqlite)
    with override_settings(COINPILOT_EMBEDDED=embedded, REDIS_URL=redis_url):
        assert [message.id for message in production_stores()] == expected


def test_a_redis_that_may_evict_is_a_deploy_warning(own_redis):
    server = redis.Redis.from_url(own_redis)
    try:
        server.config_set("maxmemory-policy", "allkeys-lru")
        with override_settings(REDIS_URL=own_redis):
            [warning] = redis_never_evicts()
        assert warning.id == "coinpilot.W001" and "'allkeys-lru'" in warning.msg
        server.config_set("maxmemory-policy", "noeviction")
        with override_settings(REDIS_URL=own_redis):
            assert redis_never_evicts() == []
    finally:
        server.config_set("maxmemory-policy", "noeviction")


def test_an_unreadable_eviction_policy_is_a_deploy_warning():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        [warning] = redis_never_evicts()
    assert warning.id == "coinpilot.W001" and "could not be read" in warning.msg


def test_production_settings_do_not_need_fakeredis(tmp_path):
    assert "fakeredis" not in (ROOT / "requirements.txt").read_text()
    assert "fakeredis" not in (ROOT / "requirements.lock").read_text()
    assert "fakeredis" in (ROOT / "requirements-embedded.txt").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile and "requirements-embedded" not in dockerfile
    code = (
        "import sys, django; django.setup(); from django.conf import settings; settings.RQ_QUEUES; "
        "assert 'fakeredis' not in sys.modules, 'fakeredis was imported'"
    )
    env = PRODUCTION_ENV | PRODUCTION_STORES | {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    env |= {"COINPILOT_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings"}
    env |= {"PATH": os.environ["PATH"]}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "COINPILOT_PAPER_SLIPPAGE_BPS",
            "5%",
            "COINPILOT_PAPER_SLIPPAGE_BPS must be a number from 0 to 1,000",
        ),
        ("COINPILOT_PAPER_INITIAL_KRW", "NaN", "COINPILOT_PAPER_INITIAL_KRW must be a number from 5,000"),
        ("UPBIT_RATE_PER_SEC", "fast", "UPBIT_RATE_PER_SEC must be a number above 0 and at most 10"),
        ("AI_HOURLY_CAP", "1e9", "AI_HOURLY_CAP must be a whole number from 0 to 10,000"),
    ],
)
def test_a_numeric_setting_typo_stops_the_start_naming_the_variable(tmp_path, variable, value, message):
    result = run_manage("check", env={"DEBUG": "1", variable: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "CoinPilot is not configured: " + message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("namespace", "errors"),
    [
        ({"COINPILOT_PAPER_SLIPPAGE_BPS": "5"}, []),
        ({"COINPILOT_PAPER_SLIPPAGE_BPS": "-1"}, ["COINPILOT_PAPER_SLIPPAGE_BPS"]),
        ({"COINPILOT_RECONCILE_KRW_TOLERANCE": "Infinity"}, ["COINPILOT_RECONCILE_KRW_TOLERANCE"]),
        ({"UPBIT_ORDER_POLL_INTERVAL_SECONDS": 0.0}, ["UPBIT_ORDER_POLL_INTERVAL_SECONDS"]),
        ({"AI_COOLDOWN_MINUTES": [5, 10, 15]}, []),
        ({"AI_COOLDOWN_MINUTES": [5, -10]}, ["AI_COOLDOWN_MINUTES"]),
        ({"AI_PREFILTER_MAX_DROP_PCT_6H": float("nan")}, ["AI_PREFILTER_MAX_DROP_PCT_6H"]),
    ],
)
def test_number_bounds(monkeypatch, namespace, errors):
    for name in namespace:
        monkeypatch.delenv(name, raising=False)
    assert [message.split()[0] for message in number_errors(namespace)] == errors


def test_the_running_settings_are_within_their_bounds(settings):
    assert number_errors({name: getattr(settings, name) for name in NUMBERS if hasattr(settings, name)}) == []


SETTINGS_SOURCE = (ROOT / "coinpilot_site" / "settings.py").read_text()


def test_every_numeric_setting_read_from_the_environment_has_bounds():
    numeric = set(re.findall(r'env\.(?:int|float)\(\s*"([A-Z0-9_]+)"', SETTINGS_SOURCE))
    numeric |= set(re.findall(r'env\.list\(\s*"([A-Z0-9_]+)",\s*cast=(?:int|float)', SETTINGS_SOURCE))
    # Amounts kept as text for Decimal, or checked by hand: a numeric default gives them away.
    numeric |= set(re.findall(r'env\.str\(\s*"([A-Z0-9_]+)",\s*default="[0-9.]+"\)', SETTINGS_SOURCE))
    assert numeric and sorted(numeric - set(NUMBERS)) == []


def test_env_example_documents_every_variable():
    read = set(
        re.findall(r'(?:env\.\w+|os\.environ\.(?:get|setdefault))\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS_SOURCE)
    )
    example = (ROOT / ".env.example").read_text()
    assert read and sorted(name for name in read if name not in example) == []
