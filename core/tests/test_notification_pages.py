"""The operator's side of alerts: `manage.py notify_test`, the System page card, the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import NotificationLog, NotificationSetting
from core.notifications import discord as transport
from core.notifications.samples import SAMPLES
from tests.fakes.discord import FakeDiscord, configure

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def discord(settings):
    with FakeDiscord() as server:
        configure(settings, server)
        yield server


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ops", password="correct-horse-battery")
    client.force_login(user)
    return user


def test_notify_test_sends_one_alert_of_each_type(discord, capsys):
    call_command("notify_test", "--now")

    out = capsys.readouterr().out
    assert sorted(embed["footer"]["text"].split(" · ")[1] for embed in discord.embeds) == sorted(SAMPLES)
    assert discord.rejected == []
    assert out.count("sent after 1 attempt(s)") == len(SAMPLES)
    assert "/api/webhooks/12.../****" in out
    assert discord.webhook_path.rsplit("/", 1)[1] not in out


def test_notify_test_refuses_without_a_webhook_url(settings):
    settings.DISCORD_WEBHOOK_URL = ""
    settings.DISCORD_WEBHOOK_URLS = {}
    with pytest.raises(CommandError, match="DISCORD_WEBHOOK_URL"):
        call_command("notify_test")


def test_notify_test_without_now_leaves_delivery_to_a_worker(discord, capsys, run_jobs):
    call_command("notify_test", "--event", "risk")
    assert discord.requests == []

    run_jobs("notifications")
    assert [embed["title"] for embed in discord.embeds] == ["Risk: Daily loss limit hit"]


def test_system_page_shows_sent_and_failed_alerts_of_the_last_day(client, staff):
    now = timezone.now()
    NotificationLog.objects.create(ref="a", event="trade", status="sent", title="BUY", attempts=1)
    NotificationLog.objects.create(
        ref="b",
        event="risk",
        status="failed",
        title="Risk: Kill switch",
        attempts=4,
        last_error="HTTP 500: boom",
    )
    NotificationLog.objects.create(
        ref="c", event="trade", status="failed", created_at=now - timezone.timedelta(hours=30)
    )

    page = client.get("/system/").content.decode()

    card = page[page.index('id="notifications"') :]
    assert "1 sent" in card
    assert "1 failed" in card
    assert "Risk: Kill switch" in card and "HTTP 500: boom" in card
    assert "Alerts are off" in card  # no Discord URL and no Telegram chat configured in this test


def test_admin_switches_events_and_never_shows_a_webhook_url(client, staff, discord):
    NotificationSetting.objects.get_or_create(event="trade")
    setting = NotificationSetting.objects.get(event="trade")
    setting.webhook_gone, setting.webhook_gone_at = transport.fingerprint(discord.url), timezone.now()
    setting.save()

    page = client.get("/admin/core/notificationsetting/").content.decode()

    assert "/api/webhooks/12.../****" in page
    assert discord.webhook_path.rsplit("/", 1)[1] not in page
    assert "answered 404" in page

    client.post(
        "/admin/core/notificationsetting/",
        {"action": "clear_webhook_gone", "_selected_action": [setting.pk]},
    )
    setting.refresh_from_db()
    assert setting.webhook_gone == ""
    assert client.get("/admin/core/notificationlog/").status_code == 200
