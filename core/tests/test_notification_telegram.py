"""Alerts to Telegram beside Discord: the fake Bot API (tests/fakes/telegram.py) and the fake
Discord serve real HTTP; an in-process rq worker (`run_jobs`) delivers."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from core.models import NotificationLog, NotificationSetting
from core.notifications import config, outbox, records, sender, telegram_text
from core.notify import notify
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import configure as configure_discord

pytestmark = pytest.mark.django_db(transaction=True)

ALICE, BOB = 1111, -1002222


@pytest.fixture
def telegram(fake_telegram, settings):
    """The fake Telegram with alerts on for two chats, Discord off, retry timings short."""
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE, BOB)
    settings.TELEGRAM_ALERT_EVENTS = config.EVENT_TYPES
    settings.DISCORD_WEBHOOK_URL, settings.DISCORD_WEBHOOK_URLS = "", {}
    settings.DISCORD_TIMEOUT_SECONDS = 0.5
    settings.DISCORD_RETRY_BASE_SECONDS = 0.05
    settings.DISCORD_MAX_RETRIES = 3
    settings.DISCORD_SLICE_SECONDS = 10.0
    return fake_telegram


def fill(number: int) -> dict:
    return {"symbol": f"KRW-C{number:02d}", "side": "BUY", "price": "1000", "quantity": "5", "amount": "5000"}


def texts(server, chat: int) -> list[str]:
    return [message.text for message in server.messages_to(chat)]


def gaps(calls) -> list[float]:
    return [later.at - earlier.at for earlier, later in zip(calls, calls[1:], strict=False)]


def test_an_alert_reaches_discord_and_each_chat_once(telegram, settings, run_jobs):
    with FakeDiscord() as discord:
        configure_discord(settings, discord)
        notify("trade", fill(1))
        run_jobs("notifications")

        assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C01 filled"]
    for chat in (ALICE, BOB):
        [text] = texts(telegram, chat)
        assert text.startswith("<b>BUY KRW-C01 filled</b>\n")
        assert "<b>Price</b>: 1,000 KRW" in text and "CoinPilot · trade ·" in text
    assert {call.params["parse_mode"] for call in telegram.calls("sendMessage")} == {"HTML"}
    logs = {log.webhook: log for log in NotificationLog.objects.all()}
    assert len(logs) == 3
    assert {logs[f"telegram chat {chat}"].status for chat in (ALICE, BOB)} == {"sent"}
    assert all(log.title == "BUY KRW-C01 filled" for log in logs.values())
    assert not any(telegram.token in log.webhook or telegram.token in log.ref for log in logs.values())
    assert outbox.pending() == {}


def test_payload_text_is_escaped_for_telegram_html(telegram, run_jobs):
    notify("system", {"detail": "price <= 0 & feed <lost>"})
    run_jobs("notifications")

    [text] = texts(telegram, ALICE)
    assert "price &lt;= 0 &amp; feed &lt;lost&gt;" in text


def test_a_429_waits_retry_after_and_then_delivers_once(telegram, run_jobs):
    telegram.retry_after = 1
    telegram.fault("sendMessage", "429")
    notify("risk", {"kind": "kill_switch", "reason": "operator"})
    run_jobs("notifications")

    assert len(texts(telegram, ALICE)) == 1 and len(texts(telegram, BOB)) == 1
    alice_calls = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == ALICE]
    assert [c.answer for c in alice_calls] == ["429", "ok"]
    assert gaps(alice_calls)[0] >= 0.95
    log = NotificationLog.objects.get(webhook=f"telegram chat {ALICE}")
    assert (log.status, log.attempts) == ("sent", 2)


def test_server_errors_and_timeouts_are_retried_with_backoff(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    telegram.hang_seconds = 1.0
    telegram.fault("sendMessage", "500", "hang", "502")
    before = records.SENT.labels("trade", "retry")._value.get()
    notify("trade", fill(1))
    run_jobs("notifications")

    assert len(texts(telegram, ALICE)) == 1
    assert [c.answer for c in telegram.calls("sendMessage")] == ["500", "hang", "502", "ok"]
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("sent", 4)
    assert records.SENT.labels("trade", "retry")._value.get() == before + 3


def test_retries_end_after_the_allowed_number(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    settings.DISCORD_MAX_RETRIES = 1
    telegram.fault("sendMessage", "500", "500")
    notify("trade", fill(1))
    run_jobs("notifications")

    assert texts(telegram, ALICE) == []
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("failed", 2)
    assert "gave up after 2 attempts" in log.last_error and "HTTP 500" in log.last_error


def test_a_400_is_not_retried_and_is_recorded(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    telegram.fault("sendMessage", "400")
    notify("trade", fill(1))
    notify("trade", fill(2))
    run_jobs("notifications")

    assert len(telegram.calls("sendMessage")) == 2
    [text] = texts(telegram, ALICE)
    assert "KRW-C02" in text
    failed = NotificationLog.objects.get(status="failed")
    assert (failed.title, failed.attempts) == ("BUY KRW-C01 filled", 1)
    assert failed.last_error == "HTTP 400: Bad Request: message can't be edited"
    assert failed.webhook == f"telegram chat {ALICE}"


def test_a_burst_is_paced_to_one_message_a_second_per_chat(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    for number in range(3):
        notify("trade", fill(number))
    run_jobs("notifications")

    for chat in (ALICE,):
        assert [text.split("\n")[0] for text in texts(telegram, chat)] == [
            f"<b>BUY KRW-C{n:02d} filled</b>" for n in range(3)
        ]
        calls = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == chat]
        assert all(gap >= 0.95 for gap in gaps(calls))
    assert NotificationLog.objects.filter(status="sent").count() == 3


def test_a_long_report_is_cut_within_4096_characters(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    notify("daily-report", {"date": "2026-12-01", "summary": "<x> & " * 900, "notes": "n" * 900})
    run_jobs("notifications")

    [text] = texts(telegram, ALICE)  # the fake refuses over 4096 (400), so this alone proves the cut
    assert len(text) <= telegram_text.TEXT_LIMIT
    assert "cut to fit Telegram's 4,096 characters" in text
    assert text.startswith("<b>Daily report · 2026-12-01 (KST)</b>\n&lt;x&gt; &amp; ")
    assert text.endswith("KST</i>")
    assert NotificationLog.objects.get().status == "sent"


def test_render_keeps_short_messages_whole_and_cuts_long_ones_on_escaped_length():
    embed = {
        "title": "T",
        "description": "d",
        "fields": [{"name": "N", "value": "v"}],
        "footer": {"text": "F"},
    }
    assert telegram_text.render(embed) == "<b>T</b>\nd\n<b>N</b>: v\n\n<i>F</i>"
    long = embed | {"description": "&" * 5000}
    text = telegram_text.render(long)
    assert len(text) <= 4096 and "&amp;…" in text and text.endswith("<i>F</i>")
    assert "&am…" not in text  # never cut inside an escape


def test_telegram_is_off_without_chat_ids_or_token(telegram, settings, run_jobs):
    with FakeDiscord() as discord:
        configure_discord(settings, discord)
        settings.TELEGRAM_ALERT_CHAT_IDS = ()
        notify("trade", fill(1))
        settings.TELEGRAM_ALERT_CHAT_IDS, settings.TELEGRAM_BOT_TOKEN = (ALICE,), ""
        notify("trade", fill(2))
        run_jobs("notifications")

        assert len(discord.embeds) == 2
    assert telegram.calls("sendMessage") == []
    assert {log.webhook.startswith("telegram") for log in NotificationLog.objects.all()} == {False}


def test_only_the_chosen_events_and_admin_switches_go_to_telegram(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    settings.TELEGRAM_ALERT_EVENTS = ("risk", "trade")
    NotificationSetting.objects.create(event="trade", enabled=False)
    notify("daily-report", {"date": "2026-12-01"})
    notify("trade", fill(1))
    notify("risk", {"kind": "kill_switch"})
    run_jobs("notifications")

    [text] = texts(telegram, ALICE)
    assert text.startswith("<b>Risk: Kill switch</b>")
    assert outbox.pending() == {}


def test_items_of_a_removed_chat_are_dropped_not_sent_elsewhere(telegram, settings, run_jobs):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE,)
    notify("trade", fill(1))
    assert outbox.pending() == {config.telegram_hook(ALICE): 1}
    settings.TELEGRAM_ALERT_CHAT_IDS = (BOB,)
    before = records.SENT.labels("trade", "off")._value.get()
    assert (
        sender.deliver(config.telegram_hook(ALICE)) == "Telegram chat no longer configured: dropped 1 item(s)"
    )
    run_jobs("notifications")

    assert texts(telegram, ALICE) == []
    assert len(texts(telegram, BOB)) == 1  # the job of the alert: it goes to the chats configured now
    assert records.SENT.labels("trade", "off")._value.get() == before + 1
    assert outbox.pending() == {}


def test_the_token_never_reaches_logs_or_records(telegram, caplog, run_jobs):
    caplog.set_level(logging.INFO, logger="httpx")
    caplog.set_level(logging.INFO, logger="core.notifications")
    telegram.fault("sendMessage", "500", "400")
    notify("trade", fill(1))
    run_jobs("notifications")

    assert "sendMessage" in caplog.text  # httpx's request line was logged, masked
    assert telegram.token not in caplog.text
    assert telegram.token.split(":")[1] not in caplog.text
    for log in NotificationLog.objects.all():
        assert telegram.token not in log.last_error + log.webhook + log.ref
    assert telegram.token not in config.telegram_hook(ALICE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ()), (" 12345 , -1001234567890,12345", (12345, -1001234567890))],
)
def test_chat_ids_are_parsed(raw, expected):
    assert config.parse_chat_ids(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "12;34", "12, @channel"])
def test_a_bad_chat_id_stops_the_start_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match=r"^TELEGRAM_ALERT_CHAT_IDS: '.+' is not a chat id"):
        config.parse_chat_ids(raw)


def test_alert_events_are_parsed_and_checked():
    assert config.parse_events("") == config.EVENT_TYPES
    assert config.parse_events("risk, Trade") == ("trade", "risk")
    with pytest.raises(
        ImproperlyConfigured, match=r"^TELEGRAM_ALERT_EVENTS: unknown event type\(s\) 'trades'"
    ):
        config.parse_events("trades,risk")


def test_notify_test_reports_each_telegram_chat(telegram, capsys):
    call_command("notify_test", "--now", "--event", "risk", "--event", "trade")

    out = capsys.readouterr().out
    assert f"queued for telegram chat {ALICE}, telegram chat {BOB}" in out
    assert out.count("sent after 1 attempt(s)") == 4
    assert f"risk -> telegram chat {BOB} sent after 1 attempt(s)" in out
    assert len(texts(telegram, ALICE)) == 2 and telegram.token not in out
