"""The bot's polling loop in this process (a thread) against the fake Telegram server: runs on the
embedded default too (SQLite + fakeredis are shared only inside one process)."""

import asyncio
import threading
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from remote.bot import Bot
from remote.models import HandledUpdate
from remote.tests.test_bot_process import ALICE, STRANGER, ask, hold
from tests.sessions import other_sessions
from tests.waiting import wait_for
from trading.models import Position, RiskAudit, TradingControl

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def polling(fake_telegram):
    """The bot polling in a thread of this process, for Alice's chat; stopped on exit."""
    alice = get_user_model().objects.create_user("alice", password="x-long-password-1")
    bot = Bot(
        token=fake_telegram.token, base_url=fake_telegram.api_url, chats={ALICE: alice.pk}, poll_seconds=1
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(bot.run(),), daemon=True)
    thread.start()
    fake_telegram.wait_for(lambda: fake_telegram.calls("getUpdates"))
    try:
        yield bot
    finally:
        loop.call_soon_threadsafe(bot.stopping.set)
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def bot(fake_telegram):
    with polling(fake_telegram) as running:
        yield running


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
    # the bot records the update after it answers: let it finish before this thread writes (the
    # embedded test database is one shared-cache SQLite, where a second writer fails at once)
    confirmed(fake_telegram)
    UserPreference.objects.create(user=alice, language="ko")
    assert ask(fake_telegram, ALICE, "hello").text == "모르는 명령입니다. /help로 명령 목록을 확인하세요."
    assert ask(fake_telegram, ALICE, "/help").text.startswith("CoinPilot 원격 제어")


def confirmed(fake) -> None:
    """Wait until the bot has confirmed every update sent so far (its next poll asks past them)."""
    last = max(fake.history)
    fake.wait_for(lambda: any(int(c.params.get("offset") or 0) > last for c in fake.calls("getUpdates")))


@contextmanager
def bots_next_query_fails(caplog):
    """A real database fault on the bot's next query, cleared on exit: on SQLite a table this test
    holds a write lock on ("database table is locked"); on PostgreSQL the bot's connection killed
    while it waits for a lock this test holds."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {HandledUpdate._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        else:
            HandledUpdate.objects.create(update_id=0)
        yield
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                wait_for(lambda: _terminate_waiting_backends(cursor), 10, "a query waiting on the lock")
        wait_for(lambda: "database failed before update" in caplog.text, 10, "the logged database failure")
        transaction.set_rollback(True)


def _terminate_waiting_backends(cursor) -> int:
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is read once per transaction
    cursor.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return len(cursor.fetchall())


def test_a_database_fault_delays_the_answer_but_does_not_stop_the_bot(fake_telegram, bot, caplog):
    fake = fake_telegram
    with bots_next_query_fails(caplog):
        fake.send_text(ALICE, "hello")
    assert "database failed before update" in caplog.text
    answer = fake.wait_for_message(ALICE, 1, timeout=15)
    assert answer.text == "Not a command I know: /help lists them."
    confirmed(fake)
    assert len(fake.messages_to(ALICE)) == 1 and HandledUpdate.objects.count() == 1


@pytest.mark.real_services  # counts PostgreSQL sessions
def test_a_stopped_bot_leaves_no_database_connection_open(fake_telegram):
    with polling(fake_telegram):
        assert ask(fake_telegram, ALICE, "hello").text == "Not a command I know: /help lists them."
        confirmed(fake_telegram)
        assert other_sessions() >= 1  # the thread the bot's queries run in
    wait_for(lambda: other_sessions() == 0, 10, "the bot's connection to close")
