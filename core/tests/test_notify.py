"""`notify()`: the caller's side. It only touches Redis, so it returns at once whatever Discord does."""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import django_rq
import pytest
from django.db import connection, transaction

from core.notifications import discord as transport
from core.notifications import outbox, sender
from core.notify import notify
from tests.fakes.discord import FakeDiscord, configure
from tests.waiting import wait_for


@pytest.fixture
def discord(settings):
    with FakeDiscord() as server:
        configure(settings, server)
        yield server


def queued() -> list:
    return django_rq.get_queue("notifications").jobs


@pytest.mark.django_db(transaction=True)  # the delivering thread reads the switches
def test_notify_returns_in_milliseconds_while_discord_hangs(discord, settings):
    settings.DISCORD_TIMEOUT_SECONDS = 5.0
    discord.default = "hang"
    notify("trade", {"symbol": "KRW-BTC", "side": "BUY"})

    def deliver():
        try:
            sender.deliver(transport.fingerprint(discord.url))
        finally:
            connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    wait_for(lambda: discord.requests, 30, "the worker to be stuck on the hanging Discord")

    durations = []
    for number in range(50):
        started = time.perf_counter()
        notify("trade", {"symbol": f"KRW-C{number}", "side": "BUY", "price": Decimal("1.5")})
        durations.append(time.perf_counter() - started)
    discord.default = "204"
    discord.release()
    worker.join(timeout=10)

    assert len(discord.requests) >= 1 and discord.requests[0].answer == "hang"
    # Not a speed target: Discord hangs for 5 s, so a call under 1 s never waited on it (the
    # margin is for a machine busy with two test suites at once).
    assert max(durations) < 1.0
    assert len(queued()) == 51


def test_notify_puts_the_alert_in_the_outbox_at_once_so_a_burst_coalesces(discord):
    for number in range(3):
        notify("trade", {"symbol": f"KRW-C{number}"})

    assert outbox.pending() == {transport.fingerprint(discord.url): 3}
    assert [job.args[0] for job in queued()] == ["trade"] * 3
    assert [item["id"] for item in outbox.head(transport.fingerprint(discord.url), 3)] == [
        job.id for job in queued()
    ]


def test_waiting_alerts_are_counted_per_outbox_without_scanning_the_keyspace(discord, monkeypatch):
    hook = transport.fingerprint(discord.url)
    notify("trade", {"symbol": "KRW-BTC"})
    outbox.append("tg:moved-chat", {"id": "x", "event": "trade", "payload": {}, "at": "2026-01-02"})
    emptied = "tg:emptied-chat"
    outbox.append(emptied, {"id": "y", "event": "trade", "payload": {}, "at": "2026-01-02"})
    outbox.remove_head(emptied, 1)
    conn = outbox.get_redis()
    conn.set("coinpilot:page:unrelated", "1")
    sent = []
    real = type(conn).execute_command

    def spy(self, *args, **options):
        sent.append(args[0])
        return real(self, *args, **options)

    monkeypatch.setattr(type(conn), "execute_command", spy)

    assert outbox.pending() == {hook: 1, "tg:moved-chat": 1}  # the emptied outbox is not listed
    assert "SCAN" not in sent  # a SCAN would read every key of the page cache on each System view


def test_payload_values_become_plain_json(discord):
    notify("trade", {"price": Decimal("95000000.5"), "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)})

    assert queued()[0].args[1] == {"price": "95000000.5", "at": "2026-01-02T03:04:00+00:00"}


@pytest.mark.django_db
def test_an_alert_raised_in_a_transaction_that_rolls_back_is_never_sent(discord):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify("trade", {"symbol": "KRW-BTC"})
        raise RuntimeError("the trade did not happen")

    assert queued() == []
    assert outbox.pending() == {}


@pytest.mark.django_db
def test_an_alert_raised_in_a_transaction_is_queued_when_it_commits(
    discord, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        notify("trade", {"symbol": "KRW-BTC"})
        assert queued() == []

    assert len(queued()) == 1


def test_a_risk_event_is_sent_once_per_kind_and_symbol_in_its_cooldown(discord, settings):
    settings.NOTIFY_RISK_COOLDOWN_SECONDS = 1
    for _ in range(5):
        notify("risk", {"kind": "max_daily_trades", "symbol": "KRW-BTC"})
    notify("risk", {"kind": "max_daily_trades", "symbol": "KRW-ETH"})
    notify("risk", {"kind": "halt"})
    assert len(queued()) == 3

    time.sleep(1.1)
    notify("risk", {"kind": "max_daily_trades", "symbol": "KRW-BTC"})
    assert len(queued()) == 4


def test_kill_switch_changes_are_never_held_back(discord):
    notify("risk", {"kind": "KILL_SWITCH", "description": "kill switch turned ON"})
    notify("risk", {"kind": "KILL_SWITCH", "description": "kill switch turned off"})

    assert len(queued()) == 2


def test_notify_never_raises_when_redis_fails(discord, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(outbox, "push", broken)
    notify("system", {"title": "x"})  # logged, not raised

    assert "could not queue system notification" in caplog.text


def test_notify_only_enqueues_and_returns_at_once():
    started = time.perf_counter()
    notify("system", {"title": "disk almost full", "free_gb": 1})
    assert time.perf_counter() - started < 1.0  # queued, not sent: a worker sends it
    [job] = django_rq.get_queue("notifications").jobs
    assert job.args == ("system", {"title": "disk almost full", "free_gb": 1})


def test_notify_never_raises_when_the_queue_is_unreachable():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("core.notify.django_rq.get_queue", lambda name: 1 / 0)
        notify("risk", {"title": "daily loss limit"})  # logged, not raised


def test_notify_rejects_an_unknown_event_type():
    with pytest.raises(ValueError, match="unknown notification event 'tweet'"):
        notify("tweet", {})
