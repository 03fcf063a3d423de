"""A real gunicorn (the project's gunicorn.conf.py) on a free loopback port, for tests that need
real worker processes: its own database prepared in either test mode, stopped after the test.

Real servers: the gunicorn workers use the test's PostgreSQL database and Redis db (the test must be
`django_db(transaction=True)`). Embedded default: a migrated SQLite file under the test's tmp_path,
and each worker's own in-process fakeredis.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from conftest import stop_children

ROOT = Path(__file__).resolve().parent.parent
WSGI_APP = "coinpilot_site.wsgi:application"
SETTINGS = "tests.server_settings"
PLAIN_HTTP = {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}


def server_env(real_services: bool, subprocess_env: dict, tmp_path: Path) -> dict:
    """Environment for gunicorn and manage.py children, with a ready database."""
    if real_services:
        return subprocess_env | PLAIN_HTTP | {"DJANGO_SETTINGS_MODULE": SETTINGS}
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= PLAIN_HTTP | {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "COINPILOT_EMBEDDED": "1",
        "SECRET_KEY": "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
        "COINPILOT_VAR_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"],
        "COINPILOT_READ_DOTENV": "0",
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--no-input", "-v0")
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, timeout=120)


def create_user(env: dict, username: str, password: str) -> None:
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={password!r})"
    )
    manage(env, "shell", "-c", code)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(env: dict, log: Path) -> Iterator[str]:
    """Run gunicorn -c gunicorn.conf.py; yields its base URL once /healthz answers."""
    port = free_port()
    with open(log, "w") as out:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "coinpilot_site.wsgi:application",
            ],
            cwd=ROOT,
            env=env | {"GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, child, log)
            yield url
        finally:
            stop_children([child])


def _wait_until_up(url: str, child: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if child.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {child.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def logged_in(url: str, username: str, password: str) -> httpx.Client:
    """An HTTP client with a session at `url` (the login form, with its CSRF token)."""
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/login/")
    form = {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
    response = client.post("/login/", data=form)
    assert response.status_code == 302, response.text[:500]
    return client
