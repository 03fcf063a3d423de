"""The web server does not stall: with the project's gunicorn.conf.py (threaded workers), open Ask
answers that stream for a long time leave /healthz and the pages answering."""

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import real_services_configured
from tests.fakes.anthropic import FakeAnthropic, text_turn
from tests.web_server import create_user, gunicorn, logged_in, server_env

OPEN_ANSWERS = 4  # more than the 3 worker processes: with sync workers nothing else would answer


@pytest.mark.django_db(transaction=True)
def test_pages_and_healthz_answer_while_ask_answers_stream(request, tmp_path):
    subprocess_env = request.getfixturevalue("subprocess_env") if real_services_configured() else {}
    with FakeAnthropic(stream_delay=1.0) as model:  # a slow model: each answer streams for ~15 s
        model.script(*[text_turn("A slow and careful answer. " * 6) for _ in range(OPEN_ANSWERS)])
        env = server_env(real_services_configured(), subprocess_env, tmp_path)
        env |= {
            "ANTHROPIC_API_KEY": "sk-ant-test-fake",
            "ANTHROPIC_BASE_URL": model.url,
            "AI_SDK_MAX_RETRIES": "0",
        }
        create_user(env, "operator", "pw-operator-123")
        with gunicorn(env, tmp_path / "gunicorn.log") as url:
            clients = [logged_in(url, "operator", "pw-operator-123") for _ in range(OPEN_ANSWERS)]
            streams, first_lines, ready = [], [], threading.Barrier(OPEN_ANSWERS + 1, timeout=60)

            def ask(client: httpx.Client) -> None:
                token = client.cookies["csrftoken"]
                form = {"question": "Tell me everything", "csrfmiddlewaretoken": token}
                with client.stream("POST", "/ask/question", data=form) as response:
                    lines = response.iter_lines()
                    first_lines.append(json.loads(next(lines)))  # the answer has started
                    ready.wait()  # hold it open while the main thread looks
                    ready.wait()

            for client in clients:
                streams.append(threading.Thread(target=ask, args=(client,), daemon=True))
                streams[-1].start()
            ready.wait()  # every answer is streaming now
            try:
                assert [line["type"] for line in first_lines] == ["delta"] * OPEN_ANSWERS
                with httpx.Client(base_url=url, timeout=10) as other:
                    started = time.monotonic()
                    health = other.get("/healthz")
                    page = other.get("/login/")
                    took = time.monotonic() - started
            finally:
                ready.wait()  # let the streams go (the clients close them)
            for thread in streams:
                thread.join(timeout=30)
            for client in clients:
                client.close()
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert page.status_code == 200 and b"Log in" in page.content
    assert took < 3, f"/healthz and a page took {took:.1f} s while {OPEN_ANSWERS} answers streamed"
    assert len(model.requests) == OPEN_ANSWERS


@pytest.mark.django_db(transaction=True)
def test_a_web_worker_imports_what_the_market_chart_needs_before_its_first_request(request, tmp_path):
    """scipy.signal (the chart's RSI) took the first Market page of each worker 0.7 s longer."""
    subprocess_env = request.getfixturevalue("subprocess_env") if real_services_configured() else {}
    pidfile = tmp_path / "gunicorn.pid"
    env = server_env(real_services_configured(), subprocess_env, tmp_path)
    env |= {"GUNICORN_WORKERS": "1", "GUNICORN_CMD_ARGS": f"--pid {pidfile}"}
    with gunicorn(env, tmp_path / "gunicorn.log"):  # /healthz answered: the one worker is serving
        master = int(pidfile.read_text())
        (worker,) = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        maps = Path(f"/proc/{worker}/maps").read_text()
    assert "/scipy/signal/" in maps
