"""Real `manage.py rqworker` processes delivering to the fake Discord (PostgreSQL + Redis needed)."""

import os
import signal
import time
from pathlib import Path

import pytest
from rq import Worker

from core.models import NotificationLog
from core.notifications import discord as transport
from core.notifications import outbox
from core.notify import notify
from core.redis_conn import get_redis
from tests.fakes.discord import FakeDiscord, configure
from tests.waiting import wait_for

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def discord(settings):
    with FakeDiscord() as server:
        configure(settings, server)
        yield server


@pytest.fixture
def worker_env(subprocess_env, discord) -> dict:
    return subprocess_env | {
        "DISCORD_WEBHOOK_URL": discord.url,
        "DISCORD_TIMEOUT_SECONDS": "0.5",
        "DISCORD_MIN_INTERVAL_SECONDS": "0.3",
        "DISCORD_RETRY_BASE_SECONDS": "0.1",
        "DISCORD_SLICE_SECONDS": "1",
    }


def titles(count: int) -> list[str]:
    return [f"BUY KRW-C{n:02d} filled" for n in range(count)]


def alert(number: int) -> None:
    notify("trade", {"symbol": f"KRW-C{number:02d}", "side": "BUY", "price": "1000"})


def test_a_real_worker_delivers_queued_alerts_through_an_outage(discord, spawn, worker_env):
    discord.script("500", "503")
    for number in range(12):
        alert(number)

    worker = spawn("rqworker", "notifications", "--burst", env=worker_env)
    assert worker.wait(timeout=60) == 0

    assert [embed["title"] for embed in discord.embeds] == titles(12)
    assert [len(message["embeds"]) for message in discord.accepted] == [10, 2]
    assert NotificationLog.objects.filter(status="sent").count() == 12


def test_two_workers_pace_one_webhook_between_them(discord, spawn, worker_env):
    spawn("rqworker", "notifications", env=worker_env)
    spawn("rqworker", "notifications", env=worker_env)
    wait_for(lambda: len(Worker.all(connection=get_redis())) == 2, 60)  # both listening (slow under load)
    for number in range(20):
        alert(number)
        time.sleep(0.05)

    wait_for(lambda: len(discord.embeds) == 20, 60)
    assert [embed["title"] for embed in discord.embeds] == titles(20)
    times = discord.accepted_times()
    assert all(later - earlier >= 0.29 for earlier, later in zip(times, times[1:], strict=False))


def test_nothing_is_lost_when_a_worker_is_killed_mid_send(discord, spawn, worker_env):
    discord.default = "hang"
    alert(0)
    first = spawn("rqworker", "notifications", env=worker_env)
    wait_for(lambda: len(discord.requests) == 1, 30)  # the POST is in flight
    for pid in [*_children(first.pid), first.pid]:
        os.kill(pid, signal.SIGKILL)  # the worker and its work horse die without cleaning up
    first.wait()
    discord.default = "204"
    discord.release()
    assert outbox.pending() == {transport.fingerprint(discord.url): 1}

    alert(1)
    second = spawn("rqworker", "notifications", "--burst", env=worker_env)
    assert second.wait(timeout=60) == 0  # waits out the dead worker's lock, then delivers

    assert [embed["title"] for embed in discord.embeds] == titles(2)
    assert outbox.pending() == {}


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
