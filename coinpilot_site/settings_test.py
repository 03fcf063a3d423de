"""Settings for the test suite: the production settings plus test-only conveniences.

The same suite runs on the embedded default (no DATABASE_URL / REDIS_URL: SQLite and an
in-process fakeredis) and on real servers (both URLs set, as CI does).
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
# With DEBUG off the embedded default must be asked for; real servers are used when both URLs are set.
os.environ.setdefault("COINPILOT_EMBEDDED", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ["COINPILOT_VAR_DIR"] = tempfile.mkdtemp(prefix="coinpilot-test-")
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # a fresh one per run, under the temp var dir
if os.environ.get("REDIS_URL"):
    # Tests flush their Redis database: never the one a running CoinPilot uses (db 0 by default).
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    # Under pytest-xdist each worker process flushes its own database: 15, 14, ... (gw0, gw1, ...).
    _worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    _db = int(os.environ.get("REDIS_TEST_DB", "15")) - _worker
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
os.environ["COINPILOT_READ_DOTENV"] = "0"  # a developer's .env must not bring keys or webhooks in
SECRETS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
    "COINPILOT_LIVE_TRADING",
    "SENTRY_DSN",  # a developer's error tracking must not receive the tests' errors
)
for _name in list(os.environ):
    if _name.startswith("DISCORD_WEBHOOK_URL") or _name in SECRETS:
        os.environ.pop(_name)  # never reach a real service from a test

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "staticfiles"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)
# Tests see every computation: a value cached by one test must not answer the next one (ids repeat
# after a rollback on SQLite). test_caching.py turns a real cache on where it tests caching.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
