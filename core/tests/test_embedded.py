"""`manage.py run_embedded`: the whole system on SQLite + embedded Redis, started and stopped."""

import os
import re
import signal
import socket
import subprocess
import time

import httpx
import pytest
import redis
from rq import Worker

from conftest import manage_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (httpx.HTTPError, redis.RedisError):
            pass
        time.sleep(0.3)
    return False


@pytest.fixture
def embedded_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return env | {
        "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
        "DEBUG": "1",
        "COINPILOT_VAR_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "PYTHONUNBUFFERED": "1",
    }


def test_one_command_runs_web_worker_and_scheduler_and_ctrl_c_stops_them(embedded_env, tmp_path):
    for args in (("migrate", "--no-input"), ("ensure_admin",)):
        done = subprocess.run(manage_command(*args), env=embedded_env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    password = (tmp_path / "admin-password.txt").read_text().strip()
    web, redis_port = free_port(), free_port()
    log = open(tmp_path / "embedded.log", "w")  # noqa: SIM115
    system = subprocess.Popen(
        manage_command("run_embedded", "--addr", f"127.0.0.1:{web}", "--redis-port", str(redis_port)),
        env=embedded_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{web}"
    store = redis.Redis(port=redis_port)
    try:
        healthy = wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, 60)
        assert healthy, "web never healthy:\n" + (tmp_path / "embedded.log").read_text()[-3000:]
        assert wait_for(lambda: len(Worker.all(connection=store)) == 1, 30), "no worker registered"
        assert wait_for(lambda: store.exists("coinpilot:scheduler:heartbeat"), 30), "no scheduler heartbeat"

        with httpx.Client(base_url=base) as browser:
            assert browser.get("/system/").status_code == 302  # login first
            browser.get("/login/")
            response = browser.post(
                "/login/",
                data={
                    "username": "admin",
                    "password": password,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
            )
            assert response.status_code == 302
            page = browser.get("/system/").text
        assert re.search(r"<span class=\"good\">alive</span>", page), "scheduler not shown alive"
        assert "embedded-" in page, "worker not listed"
    finally:
        system.send_signal(signal.SIGINT)
        code = system.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "embedded.log").read_text()[-2000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz")


def test_embedded_redis_keeps_the_connection_after_an_error_reply():
    from core.embedded_redis import serve

    server = serve(free_port())
    try:
        pool = redis.ConnectionPool(host="127.0.0.1", port=server.server_address[1], max_connections=1)
        client = redis.Redis(connection_pool=pool)
        with pytest.raises(redis.exceptions.NoScriptError):
            client.evalsha("0" * 40, 0)
        with pytest.raises(redis.exceptions.ResponseError):
            client.execute_command("INFO", "server")  # rq probes this; fakeredis lacks it
        assert client.ping() is True  # the same (only) connection still works
        lock = client.lock("demo", timeout=5)  # redis-py locks load Lua scripts after NOSCRIPT
        assert lock.acquire(blocking=False) and lock.release() is None
    finally:
        server.shutdown()
        server.server_close()


def test_embedded_redis_accepts_many_clients_connecting_at_once():
    # the web's threads, the workers and the scheduler connect together at start; with a backlog
    # of 5 (socketserver's default) the kernel dropped the rest and a 0.5 s connect timed out
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from core.embedded_redis import serve

    server = serve(free_port())
    clients = 64
    together = Barrier(clients)

    def connect(_) -> bool:
        together.wait()
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=0.5) as sock:
            sock.settimeout(30)  # only the connect is timed: 64 answers from one busy 2-core box take a while
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16) == b"+PONG\r\n"

    try:
        with ThreadPoolExecutor(clients) as pool:
            assert all(pool.map(connect, range(clients)))
    finally:
        server.shutdown()
        server.server_close()
