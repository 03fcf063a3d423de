"""Delivery to a real HTTP fake of Discord, run by an in-process rq worker (`run_jobs`)."""

import logging
import re

import pytest

from core.models import NotificationLog, NotificationSetting
from core.notifications import discord as transport
from core.notifications import outbox, records, sender
from core.notify import notify
from tests.fakes.discord import FakeDiscord, configure

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def discord(settings):
    with FakeDiscord() as server:
        configure(settings, server)
        yield server


def fill(number: int) -> dict:
    return {"symbol": f"KRW-C{number:02d}", "side": "BUY", "price": "1000", "quantity": "5", "amount": "5000"}


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def scheduled_waits(caplog) -> list[float]:
    """The waits the sender scheduled, from its "retrying in 0.20s" log lines."""
    lines = [record.getMessage() for record in caplog.records]
    return [float(match[1]) for line in lines if (match := re.search(r"retrying in ([0-9.]+)s", line))]


# A measured gap is never shorter than the scheduled wait; the upper slack only catches a sender
# that sleeps far too long: a busy 2-core CI machine can hold a process back for most of a second.
SLACK_SECONDS = 1.5


def sent_total(event: str, status: str) -> float:
    return records.SENT.labels(event, status)._value.get()


def test_an_alert_reaches_discord_as_one_embed_with_wait_true(discord, run_jobs):
    before = sent_total("trade", "sent")
    notify("trade", fill(1))
    run_jobs("notifications")

    assert len(discord.accepted) == 1
    assert discord.requests[0].query == "wait=true"
    assert discord.embeds[0]["title"] == "BUY KRW-C01 filled"
    log = NotificationLog.objects.get()
    assert (log.event, log.status, log.attempts) == ("trade", "sent", 1)
    assert log.title == "BUY KRW-C01 filled"
    assert discord.webhook_path.split("/")[-1] not in log.webhook
    assert sent_total("trade", "sent") == before + 1


def test_a_burst_is_coalesced_into_paced_messages_of_ten(discord, run_jobs, settings):
    settings.DISCORD_MIN_INTERVAL_SECONDS = 0.3
    for number in range(23):
        notify("trade", fill(number))
    run_jobs("notifications")

    assert [len(message["embeds"]) for message in discord.accepted] == [10, 10, 3]
    assert [embed["title"] for embed in discord.embeds] == [f"BUY KRW-C{n:02d} filled" for n in range(23)]
    assert all(gap >= 0.29 for gap in gaps(discord.accepted_times()))
    assert NotificationLog.objects.filter(status="sent").count() == 23
    assert outbox.pending() == {}


def test_big_embeds_are_packed_within_6000_characters_per_message(discord, run_jobs):
    for day in range(4):
        notify("daily-report", {"date": f"2026-11-0{day + 1}", "summary": "x" * 2500, "notes": "y" * 500})
    run_jobs("notifications")

    assert discord.rejected == []
    assert [len(message["embeds"]) for message in discord.accepted] == [1, 1, 1, 1]
    assert len(discord.embeds) == 4


def test_an_oversized_report_is_cut_and_accepted(discord, run_jobs):
    groups = [
        {"regime": f"R{n}", "exit_reason": "TIME_LIMIT", "count": n, "note": "z" * 900} for n in range(60)
    ]
    notify("weekly-exit-report", {"days": 7, "suggestions": ["s" * 3000, "t" * 3000], "groups": groups})
    notify("trade", fill(1))
    run_jobs("notifications")

    assert discord.rejected == []
    report, trade = discord.embeds
    assert report["title"] == "Weekly exit report · last 7 days"
    assert report["fields"][-1]["name"] == "Omitted"
    assert trade["title"] == "BUY KRW-C01 filled"


def test_5xx_is_retried_with_exponential_backoff_and_sent_once(discord, run_jobs, settings, caplog):
    settings.DISCORD_RETRY_BASE_SECONDS = 0.2
    discord.script("500", "503", "500")
    notify("trade", fill(1))
    with caplog.at_level(logging.INFO, logger=sender.__name__):
        run_jobs("notifications")

    assert scheduled_waits(caplog) == [0.2, 0.4, 0.8]
    intervals = gaps([request.at for request in discord.requests])
    assert len(intervals) == 3
    for measured, expected in zip(intervals, [0.2, 0.4, 0.8], strict=True):
        assert expected - 0.01 <= measured <= expected + SLACK_SECONDS
    assert len(discord.accepted) == 1
    assert NotificationLog.objects.get().attempts == 4

    run_jobs("notifications")  # nothing left: a later run must not send it again
    notify("trade", fill(2))
    run_jobs("notifications")
    assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled", "BUY KRW-C02 filled"]


def test_gives_up_after_three_retries_and_records_the_failure(discord, run_jobs):
    discord.script("500", "500", "500", "500")
    notify("risk", {"kind": "halt", "reason": "daily loss"})
    run_jobs("notifications")

    assert len(discord.requests) == 4
    assert discord.accepted == []
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("failed", 4)
    assert "HTTP 500" in log.last_error
    notify("trade", fill(1))  # the next alert starts with a clean slate
    run_jobs("notifications")
    assert len(discord.accepted) == 1


@pytest.mark.parametrize("answer", ["429", "429-body", "429-header"])
def test_429_waits_retry_after_from_body_or_header(discord, run_jobs, answer, caplog):
    discord.retry_after = 0.5
    discord.script(answer)
    notify("trade", fill(1))
    with caplog.at_level(logging.INFO, logger=sender.__name__):
        run_jobs("notifications")

    assert scheduled_waits(caplog) == [0.5]
    (waited,) = gaps([request.at for request in discord.requests])
    assert 0.49 <= waited <= 0.5 + SLACK_SECONDS
    assert len(discord.accepted) == 1
    assert NotificationLog.objects.get().attempts == 2


def test_an_empty_rate_limit_bucket_delays_the_next_message(discord, run_jobs):
    discord.retry_after = 0.5
    discord.script("bucket-empty")
    notify("trade", fill(1))
    run_jobs("notifications")
    notify("trade", fill(2))
    run_jobs("notifications")

    assert gaps(discord.accepted_times())[0] >= 0.49


def test_a_refused_message_is_permanent_not_retried(discord, run_jobs):
    discord.script("400")
    notify("trade", fill(1))
    run_jobs("notifications")

    assert len(discord.requests) == 1
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("failed", 1)
    assert "HTTP 400" in log.last_error


def test_404_switches_the_webhook_off_with_one_log_line(discord, run_jobs, caplog, settings):
    discord.script("404")
    with caplog.at_level(logging.WARNING):
        notify("trade", fill(1))
        run_jobs("notifications")
        notify("trade", fill(2))
        notify("system", {"title": "job failed"})
        run_jobs("notifications")

    assert len(discord.requests) == 1
    gone_lines = [r for r in caplog.records if "404" in r.getMessage()]
    assert len(gone_lines) == 1
    assert "/api/webhooks/12.../****" in gone_lines[0].getMessage()
    assert NotificationLog.objects.filter(status="failed").count() == 3
    assert NotificationSetting.objects.get(event="trade").webhook_gone == transport.fingerprint(discord.url)

    with FakeDiscord(webhook_id="99887766", token="new-token") as replacement:
        settings.DISCORD_WEBHOOK_URL = replacement.url  # the operator sets a new URL: sending resumes
        notify("trade", fill(3))
        run_jobs("notifications")
        assert [embed["title"] for embed in replacement.embeds] == ["BUY KRW-C03 filled"]


def test_a_hanging_discord_times_out_and_the_retry_delivers_once(discord, run_jobs, settings):
    settings.DISCORD_TIMEOUT_SECONDS = 0.3
    discord.hang_seconds = 1.0
    discord.script("hang")
    notify("trade", fill(1))
    run_jobs("notifications")

    assert len(discord.accepted) == 1
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("sent", 2)


def test_an_outage_loses_nothing_and_duplicates_nothing(discord, run_jobs, settings):
    settings.DISCORD_RETRY_BASE_SECONDS = 0.1
    discord.script("503", "hang", "500")
    settings.DISCORD_TIMEOUT_SECONDS = 0.3
    discord.hang_seconds = 0.5
    for number in range(15):
        notify("trade", fill(number))
    run_jobs("notifications")

    titles = [embed["title"] for embed in discord.embeds]
    assert titles == [f"BUY KRW-C{n:02d} filled" for n in range(15)]
    assert NotificationLog.objects.filter(status="sent").count() == 15


def test_an_item_stays_in_the_outbox_when_the_worker_dies_mid_send(discord, run_jobs, monkeypatch):
    def crash(url, message, *, timeout):
        raise RuntimeError("worker killed mid-send")

    monkeypatch.setattr(transport, "execute_webhook", crash)
    notify("trade", fill(1))
    run_jobs("notifications")  # the job and its 2 rq retries all die while sending
    assert outbox.pending() == {transport.fingerprint(discord.url): 1}

    monkeypatch.undo()
    notify("trade", fill(2))  # the next alert's job delivers what was left, each item once
    run_jobs("notifications")
    assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled", "BUY KRW-C02 filled"]
    assert outbox.pending() == {}


def test_a_job_run_twice_pushes_its_item_once(discord, run_jobs, monkeypatch):
    monkeypatch.setattr(sender, "get_current_job", lambda: type("Job", (), {"id": "same-id"})())
    discord.script("hang")  # keeps the first run from sending before the second push
    discord.hang_seconds = 0.1
    sender.send_notification("trade", fill(1))
    sender.send_notification("trade", fill(1))
    run_jobs("notifications")
    assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled"]


def test_a_switched_off_event_is_not_sent(discord, run_jobs):
    NotificationSetting.objects.update_or_create(event="ai-reject", defaults={"enabled": False})
    notify("ai-reject", {"symbol": "KRW-BTC", "reason": "no"})
    notify("trade", fill(1))
    run_jobs("notifications")

    assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled"]


def test_without_a_webhook_url_sending_is_off_with_one_log_line(settings, run_jobs, caplog):
    settings.DISCORD_WEBHOOK_URL = ""
    settings.DISCORD_WEBHOOK_URLS = {}
    with caplog.at_level(logging.INFO):
        for number in range(3):
            notify("trade", fill(number))
        run_jobs("notifications")

    assert len([r for r in caplog.records if "DISCORD_WEBHOOK_URL" in r.getMessage()]) == 1
    assert NotificationLog.objects.count() == 0


def test_an_event_can_have_its_own_webhook(discord, run_jobs, settings):
    with FakeDiscord(webhook_id="5550001", token="risk-token") as risk_channel:
        settings.DISCORD_WEBHOOK_URLS = {"risk": risk_channel.url}
        notify("risk", {"kind": "kill_switch"})
        notify("trade", fill(1))
        run_jobs("notifications")
        assert [embed["title"] for embed in risk_channel.embeds] == ["Risk: Kill switch"]
    assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled"]


def test_items_waiting_for_a_changed_url_move_to_the_new_one(discord, run_jobs, settings):
    old_hook = transport.fingerprint(discord.url)
    notify("trade", fill(1))  # queued for the old URL, not yet delivered
    with FakeDiscord(webhook_id="4440001", token="moved") as new_channel:
        settings.DISCORD_WEBHOOK_URL = new_channel.url
        sender.deliver(old_hook)
        run_jobs("notifications")
        assert [embed["title"] for embed in new_channel.embeds] == ["BUY KRW-C01 filled"]
    assert discord.requests == []


def test_the_webhook_token_is_never_logged_stored_or_queued(discord, run_jobs, caplog, redis_conn):
    token = discord.webhook_path.rsplit("/", 1)[1]
    discord.script("500", "429", "400", "hang")
    with caplog.at_level(logging.DEBUG):
        for number in range(3):
            notify("trade", fill(number))
        run_jobs("notifications")

    assert not [r for r in caplog.records if token in r.getMessage()]
    assert not NotificationLog.objects.filter(webhook__contains=token).exists()
    assert not NotificationLog.objects.filter(last_error__contains=token).exists()
    for key in redis_conn.keys("*"):
        assert token.encode() not in key
        if redis_conn.type(key) == b"string":
            assert token.encode() not in redis_conn.get(key)
        if redis_conn.type(key) == b"hash":
            assert not any(token.encode() in value for value in redis_conn.hgetall(key).values())
