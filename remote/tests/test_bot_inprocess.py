"""The bot's polling loop in this process (a thread) against the fake Telegram server: runs on the
embedded default too (SQLite + fakeredis are shared only inside one process)."""

import asyncio
import threading

import pytest
from django.contrib.auth import get_user_model

from remote.bot import Bot
from remote.tests.test_bot_process import ALICE, STRANGER, ask, hold
from trading.models import Position, RiskAudit, TradingControl

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bot(fake_telegram):
    alice = get_user_model().objects.create_user("alice", password="x-long-password-1")
    bot = Bot(
        token=fake_telegram.token, base_url=fake_telegram.api_url, chats={ALICE: alice.pk}, poll_seconds=1
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(bot.run(),), daemon=True)
    thread.start()
    fake_telegram.wait_for(lambda: fake_telegram.calls("getUpdates"))
    yield bot
    loop.call_soon_threadsafe(bot.stopping.set)
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_reads_controls_and_strangers_in_process(fake_telegram, bot, caplog):
    fake = fake_telegram
    hold("KRW-BTC", 100_000_000, 500_000)
    assert "KRW-BTC" in ask(fake, ALICE, "/status").text
    assert "number of days" in ask(fake, ALICE, "/profit -3").text
    assert ask(fake, ALICE, "/sell_everything").text == "Not a command I know: /help lists them."
    assert ask(fake, ALICE, "hello").text == "Not a command I know: /help lists them."

    fake.send_text(STRANGER, "/killswitch on")
    fake.wait_for(lambda: not fake.pending_update_ids())
    assert fake.messages_to(STRANGER) == []
    assert "ignored an update from chat 999" in caplog.text

    fake.retry_after = 1
    fake.fault("sendMessage", "429")
    close = ask(fake, ALICE, "/close KRW-BTC")
    first, second = fake.calls("sendMessage")[-2:]
    assert (first.answer, second.answer) == ("429", "ok") and second.at - first.at >= 1.0

    [data] = [b["callback_data"] for b in close.buttons if b["text"] == "Confirm"]
    fake.press(ALICE, close.message_id, data)
    fake.press(ALICE, close.message_id, data)  # double tap
    fake.wait_for(lambda: len(fake.message(close.message_id).edits) >= 2)
    assert "Already done" in fake.message(close.message_id).text
    assert not Position.objects.exists()
    audit = RiskAudit.objects.get(violation_type="MANUAL_CLOSE")
    assert "(by alice)" in audit.description and not TradingControl.current().kill_switch


def test_the_bot_answers_in_the_users_saved_language(fake_telegram, bot):
    from core.models import UserPreference

    alice = get_user_model().objects.get(username="alice")
    assert ask(fake_telegram, ALICE, "hello").text == "Not a command I know: /help lists them."
    UserPreference.objects.create(user=alice, language="ko")
    assert ask(fake_telegram, ALICE, "hello").text == "모르는 명령입니다. /help로 명령 목록을 확인하세요."
    assert ask(fake_telegram, ALICE, "/help").text.startswith("CoinPilot 원격 제어")
