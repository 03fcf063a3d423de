"""The page cache on Redis: one value for every process, pages served when Redis does not answer.

The Redis is a real server: the test database of REDIS_URL when it is set, else the embedded
default's fakeredis served on loopback (core/embedded_redis.py), as `run_embedded` runs it.
"""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import translation

from core import caching

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_cache(url: str) -> dict:
    """settings.CACHES as coinpilot_site/settings.py builds it when REDIS_URL is `url` (the test
    settings replace it with a cache that keeps nothing)."""
    return {
        "default": {
            "BACKEND": "core.page_cache.SharedClientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "coinpilot:page",
            "TIMEOUT": 60,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }


@pytest.fixture(autouse=True)
def cache_answers_at_start(monkeypatch):
    monkeypatch.setattr(caching, "_down_until", 0.0)
    monkeypatch.setattr(caching, "_failing", False)


@pytest.fixture
def redis_url():
    """A Redis server of this test's own: the test database, or fakeredis on a free port."""
    if django_settings.REDIS_URL:
        yield django_settings.REDIS_URL  # REDIS_TEST_DB, flushed around every test (conftest.py)
        return
    from core.embedded_redis import serve

    server = serve(free_port())
    yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    server.shutdown()
    server.server_close()


def other_process_caches(url: str, key: str, value: str) -> str:
    """Run `cached(key, lambda: value)` in a new Python process on the production settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
        "REDIS_URL": url,
        "SECRET_KEY": "other-process-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "COINPILOT_EMBEDDED": "1",
        "COINPILOT_READ_DOTENV": "0",
    }
    code = (
        "import django; django.setup()\n"
        "from core.caching import cached\n"
        f"print(cached({key!r}, lambda: {value!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_value_computed_in_one_process_is_served_to_another(settings, redis_url):
    settings.CACHES = redis_cache(redis_url)
    assert other_process_caches(redis_url, "demo:1", "computed over there") == "computed over there"
    assert caching.cached("demo:1", lambda: "computed here") == "computed over there"
    assert caching.cached("demo:2", lambda: "computed here") == "computed here"  # another key
    assert other_process_caches(redis_url, "demo:2", "not again") == "computed here"


def test_the_page_cache_builds_one_redis_client_and_shares_it_between_threads(
    settings, redis_url, monkeypatch
):
    """Django's backend builds a client per call (90 us each, more than the round trip)."""
    import redis
    from django.core.cache import caches

    settings.CACHES = redis_cache(redis_url)
    built = []
    build = redis.Redis.__init__

    monkeypatch.setattr(
        redis.Redis, "__init__", lambda self, *a, **kw: built.append(1) or build(self, *a, **kw)
    )
    cache = caches.create_connection("default")

    def round_trips(n: int) -> list:
        for i in range(20):
            cache.set(f"shared:{n}:{i}", (n, i))
        return [cache.get(f"shared:{n}:{i}") for i in range(20)]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(round_trips, range(8)))
    assert answers == [[(n, i) for i in range(20)] for n in range(8)]
    assert len(built) == 1


def test_requests_missing_the_same_value_at_once_compute_it_once(settings, redis_url):
    settings.CACHES = redis_cache(redis_url)
    computed = []

    def slow() -> str:
        computed.append(1)
        time.sleep(0.3)
        return "the value"

    with ThreadPoolExecutor(5) as pool:  # a cache connection per thread, as per web request
        values = list(pool.map(lambda _: caching.cached("popular", slow), range(5)))
    assert values == ["the value"] * 5 and len(computed) == 1


def test_a_waiting_request_computes_itself_when_the_one_computing_fails_or_hangs(
    settings, redis_url, monkeypatch
):
    settings.CACHES = redis_cache(redis_url)
    monkeypatch.setattr(caching, "WAIT_SECONDS", 0.5)
    # A request that claimed it and never finished (keys carry the active language).
    cache.add(f"hung:{translation.get_language()}:computing", 1, 60)
    started = time.monotonic()
    assert caching.cached("hung", lambda: "mine") == "mine"
    assert 0.5 <= time.monotonic() - started < 2

    computing = threading.Event()

    def fails() -> str:
        computing.set()  # called only by the request that holds the claim
        time.sleep(0.2)
        raise RuntimeError("the database went away")

    with ThreadPoolExecutor(2) as pool:
        failing = pool.submit(caching.cached, "broken", fails)
        # Not a fixed pause: on a busy machine the second request could claim first.
        assert computing.wait(5)
        waiting = pool.submit(caching.cached, "broken", lambda: "computed after the failure")
        with pytest.raises(RuntimeError):
            failing.result()
        assert waiting.result() == "computed after the failure"


def test_an_unreachable_cache_computes_every_time_and_logs_once(settings, caplog):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    calls = []
    with caplog.at_level(logging.WARNING, logger="core.caching"):
        for _ in range(3):
            assert caching.cached("k", lambda: calls.append(1) or len(calls)) == len(calls)
            caching._down_until = 0.0  # as if the retry pause were over: it fails and computes again
    assert len(calls) == 3
    assert len(cache_logs(caplog)) == 1


def cache_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.caching"]


@pytest.mark.django_db
def test_pages_are_served_when_redis_stops_and_cache_again_when_it_is_back(settings, client, caplog):
    from core.embedded_redis import serve

    port = free_port()
    server = serve(port)
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{port}/0")
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    pages = ["/", "/market/?range=7d", "/history/", "/system/", "/exits/?days=30"]
    assert all(client.get(url).status_code == 200 for url in pages)
    assert any(key.startswith("coinpilot:page:") for key in server_keys(port))
    server.shutdown()  # Redis stops: open connections and new ones fail
    server.server_close()
    with caplog.at_level(logging.WARNING, logger="core.caching"):
        assert all(client.get(url).status_code == 200 for url in pages)
    [logged] = cache_logs(caplog)
    assert logged.startswith("page cache unavailable")

    server = serve(port)  # back, empty
    try:
        caching._down_until = 0.0  # the retry pause is over
        assert client.get("/system/").status_code == 200
        assert server_keys(port)
    finally:
        server.shutdown()
        server.server_close()


def server_keys(port: int) -> list[str]:
    import redis

    return [key.decode() for key in redis.Redis(port=port, socket_timeout=2).keys("*")]


@pytest.mark.django_db
def test_nothing_user_specific_or_secret_is_cached(settings, client, redis_url):
    """Every page of an operator, then every cached value read back raw: no name, session, token,
    password hash or secret key in any of them (they are shared by every operator)."""
    import redis

    settings.CACHES = redis_cache(redis_url)
    cache.clear()  # this test's own server or database
    user = get_user_model().objects.create_user("operator-7f3a", password="pw-123456789")
    client.force_login(user)
    for url in ["/", "/api/overview", "/market/?range=1y", "/risk/", "/history/", "/system/", "/exits/"]:
        assert client.get(url).status_code == 200
    server = redis.Redis.from_url(redis_url)
    raw = {key: server.get(key) for key in server.keys("coinpilot:page:*")}
    assert raw  # the pages did cache something
    secrets = [user.username, user.password, client.session.session_key, django_settings.SECRET_KEY]
    secrets += [client.cookies["csrftoken"].value] if "csrftoken" in client.cookies else []
    for key, value in raw.items():
        for secret in secrets:
            assert secret.encode() not in key and secret.encode() not in value, (key, secret)


@pytest.mark.django_db
def test_newest_id_is_the_highest_primary_key_and_0_for_an_empty_table():
    from trading.models import RiskAudit

    assert caching.newest_id(RiskAudit) == 0
    rows = [RiskAudit.objects.create(violation_type="KILL_SWITCH", description=str(i)) for i in range(3)]
    assert caching.newest_id(RiskAudit) == max(row.pk for row in rows)
    rows[0].delete()  # an older row going does not change the newest
    assert caching.newest_id(RiskAudit) == rows[2].pk
