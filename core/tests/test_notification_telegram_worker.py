"""A real `manage.py rqworker` process delivering alerts to the fake Telegram and the fake Discord
(PostgreSQL + Redis needed)."""

import pytest

from core.models import NotificationLog
from core.notifications import outbox
from core.notify import notify
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import configure as configure_discord

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]

ALICE, BOB = 1111, 2222


def test_a_real_worker_delivers_to_each_chat_and_discord(fake_telegram, settings, spawn, subprocess_env):
    settings.TELEGRAM_ALERT_CHAT_IDS = (ALICE, BOB)
    with FakeDiscord() as discord:
        configure_discord(settings, discord)
        env = subprocess_env | {
            "DISCORD_WEBHOOK_URL": discord.url,
            "DISCORD_TIMEOUT_SECONDS": "0.5",
            "DISCORD_MIN_INTERVAL_SECONDS": "0.3",
            "DISCORD_RETRY_BASE_SECONDS": "0.1",
            "TELEGRAM_BOT_TOKEN": fake_telegram.token,
            "TELEGRAM_API_BASE_URL": fake_telegram.api_url,
            "TELEGRAM_ALERT_CHAT_IDS": f"{ALICE},{BOB}",
            "TELEGRAM_ALERT_EVENTS": "",
        }
        fake_telegram.fault("sendMessage", "429", "500")
        fake_telegram.retry_after = 1
        for number in range(2):
            notify("trade", {"symbol": f"KRW-C{number:02d}", "side": "BUY", "price": "1000"})

        worker = spawn("rqworker", "notifications", "--burst", env=env)
        assert worker.wait(timeout=60) == 0

        assert [embed["title"] for embed in discord.embeds] == ["BUY KRW-C00 filled", "BUY KRW-C01 filled"]
    for chat in (ALICE, BOB):
        firsts = [message.text.split("\n")[0] for message in fake_telegram.messages_to(chat)]
        assert firsts == ["<b>BUY KRW-C00 filled</b>", "<b>BUY KRW-C01 filled</b>"]
    assert NotificationLog.objects.filter(status="sent").count() == 6
    assert set(NotificationLog.objects.values_list("webhook", flat=True)) >= {
        f"telegram chat {ALICE}",
        f"telegram chat {BOB}",
    }
    assert outbox.pending() == {}
