"""The bot's answers as plain functions: read replies, bad arguments, confirmations, access."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from remote import actions, replies
from remote.access import AccessError, parse_allowed_chats, resolve_users
from remote.models import Confirmation
from remote.tests.test_bot_process import hold
from trading.models import Position, RiskAudit, Trade, TradingControl

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="x-long-password-1")


@pytest.fixture
def btc():
    hold("KRW-BTC", 100_000_000, 500_000)


def test_fit_cuts_at_a_line_with_a_note():
    text = "\n".join(f"line {i:04d} " + "x" * 40 for i in range(200))
    cut = replies.fit(text)
    assert len(cut) <= 4096 and cut.endswith(replies.TRUNCATED)
    assert cut.split("\n")[-2].startswith("line ")  # whole lines only
    assert replies.fit("short") == "short"


def test_every_read_reply_is_plain_text_within_the_limit(btc):
    now = timezone.now()
    for name in ["help", "status", "positions", "profit", "daily", "risk", "ai", "system"]:
        text = replies.read_command(name, [], now)
        assert 0 < len(text) <= 4096, name
    assert "KRW-BTC" in replies.read_command("status", [], now)
    positions = replies.read_command("positions", [], now)
    assert "0.0049975 @ 100,000,000, now 100,000,000" in positions
    assert "value 499,750 KRW" in positions


def test_status_names_the_switches():
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True, "reason": "maintenance"})
    assert "KILL SWITCH ON: no new entries (maintenance)" in replies.status_text(timezone.now())
    TradingControl.objects.update(kill_switch=False, entries_paused=True)
    assert "ENTRIES PAUSED" in replies.risk_text(timezone.now())


def test_profit_sums_the_sales_of_the_period(btc):
    from trading.control import close_position

    close_position("KRW-BTC")
    text = replies.profit_text(7, timezone.now())
    pnl = Trade.objects.get(side="SELL").signal_info["pnl"]
    assert f"{Decimal(pnl):+,.0f} KRW" in text.splitlines()[0]
    assert "Sales: 1" in text


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("profit", ["abc"], "/profit takes a number of days from 1 to 365"),
        ("profit", ["0"], "from 1 to 365"),
        ("profit", ["366"], "from 1 to 365"),
        ("profit", ["7", "8"], "from 1 to 365"),
        ("status", ["now"], "/status takes no arguments"),
    ],
)
def test_bad_read_arguments_get_a_clear_message(name, args, message):
    with pytest.raises(replies.BadArgument, match=message):
        replies.read_command(name, args, timezone.now())


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("killswitch", ["maybe"], "Use /killswitch on \\[reason\\] or /killswitch off \\(got: maybe\\)"),
        ("killswitch", [], "got: nothing"),
        ("close", [], "Use /close SYMBOL"),
        ("close", ["BTC"], "Use /close SYMBOL"),
        ("close", ["KRW-BTC", "KRW-ETH"], "Use /close SYMBOL"),
        ("close", ["KRW-NOPE"], "No open position in KRW-NOPE: nothing to close. Held: KRW-BTC."),
        ("flatten", ["now"], "/flatten takes no arguments"),
        ("resume", ["x"], "/resume takes no arguments"),
    ],
)
def test_bad_control_arguments_get_a_clear_message_and_store_nothing(btc, command, args, message):
    with pytest.raises(replies.BadArgument, match=message):
        actions.parse(command, args)
    assert not Confirmation.objects.exists()


def test_a_confirmation_says_what_would_be_sold(btc, alice):
    now = timezone.now()
    reply = actions.propose(actions.parse("flatten", []), chat_id=1, user=alice, now=now)
    assert "KRW-BTC: 0.0049975 at ~100,000,000 = ~499,750 KRW" in reply.text
    assert "Total: ~499,750 KRW" in reply.text and "Confirm within 60 s" in reply.text
    assert [label for label, _ in reply.buttons] == ["Confirm", "Cancel"]
    assert all(len(data.encode()) <= 64 for _, data in reply.buttons)  # Telegram's callback limit
    assert Position.objects.exists() and not TradingControl.current().kill_switch


def test_confirm_acts_once_cancel_and_expiry_act_never(btc, alice):
    now = timezone.now()
    reply = actions.propose(actions.parse("close", ["krw-btc"]), chat_id=1, user=alice, now=now)
    confirm, cancel = (data for _, data in reply.buttons)
    assert actions.press(confirm, chat_id=2, now=now).startswith("This button is not known")  # other chat
    assert actions.press(confirm, chat_id=1, now=now + timedelta(seconds=61)).startswith(
        "This confirmation expired"
    )
    assert actions.press(confirm, chat_id=1, now=now).startswith("This confirmation expired")  # stays expired
    assert Position.objects.exists()

    reply = actions.propose(actions.parse("close", ["KRW-BTC"]), chat_id=1, user=alice, now=now)
    confirm, cancel = (data for _, data in reply.buttons)
    assert actions.press(cancel, chat_id=1, now=now) == "Cancelled: nothing was done."
    assert actions.press(confirm, chat_id=1, now=now) == "This was cancelled: nothing was done."
    assert Position.objects.exists()

    reply = actions.propose(actions.parse("close", ["KRW-BTC"]), chat_id=1, user=alice, now=now)
    confirm, _ = (data for _, data in reply.buttons)
    outcome = actions.press(confirm, chat_id=1, now=now)
    assert outcome.startswith("Close KRW-BTC (Telegram, alice):\nKRW-BTC: sold")
    assert actions.press(confirm, chat_id=1, now=now) == "Already done, nothing more is done:\n" + outcome
    assert Trade.objects.filter(side="SELL").count() == 1
    assert RiskAudit.objects.filter(violation_type="MANUAL_CLOSE").count() == 1


def test_a_position_sold_meanwhile_is_not_sold_again(btc, alice):
    now = timezone.now()
    first = actions.propose(actions.parse("close", ["KRW-BTC"]), chat_id=1, user=alice, now=now)
    second = actions.propose(actions.parse("close", ["KRW-BTC"]), chat_id=1, user=alice, now=now)
    actions.press(first.buttons[0][1], chat_id=1, now=now)
    assert (
        actions.press(second.buttons[0][1], chat_id=1, now=now)
        == "KRW-BTC is no longer held: nothing was sold."
    )
    assert Trade.objects.filter(side="SELL").count() == 1


def test_a_failed_action_is_an_outcome_not_a_traceback(alice, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(actions, "pause_entries", broken)
    reply = actions.propose(actions.parse("pause_entries", []), chat_id=1, user=alice, now=timezone.now())
    outcome = actions.press(reply.buttons[0][1], chat_id=1, now=timezone.now())
    assert outcome == "Failed: RuntimeError: database gone"
    assert Confirmation.objects.get().state == "done"


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_taps_act_once_on_postgresql(btc, alice):
    """Two bot processes (threads here, each with its own connection) claim the same confirmation."""
    now = timezone.now()
    reply = actions.propose(actions.parse("pause_entries", []), chat_id=1, user=alice, now=now)
    barrier, outcomes = threading.Barrier(4), []

    def tap():
        barrier.wait()
        outcomes.append(actions.press(reply.buttons[0][1], chat_id=1, now=now))
        connection.close()

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(o.startswith("New entries paused") for o in outcomes) == 1
    assert RiskAudit.objects.filter(violation_type="ENTRIES_PAUSED").count() == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "TELEGRAM_ALLOWED_CHATS is empty"),
        ("alice", "TELEGRAM_ALLOWED_CHATS: 'alice' is not chat id:username"),
        ("12345:", "is not chat id:username"),
        ("abc:alice", "is not chat id:username"),
        ("1:alice,1:bob", "chat 1 is listed twice"),
    ],
)
def test_allowed_chats_are_validated_naming_the_variable(raw, message):
    with pytest.raises(AccessError, match=message):
        parse_allowed_chats(raw)


def test_unknown_or_inactive_usernames_are_refused(alice):
    assert parse_allowed_chats("12345:alice, -100200:bob") == {12345: "alice", -100200: "bob"}
    with pytest.raises(AccessError, match="no active Django user named bob"):
        resolve_users({12345: "alice", 67890: "bob"})
    get_user_model().objects.filter(username="alice").update(is_active=False)
    with pytest.raises(AccessError, match="alice"):
        resolve_users({12345: "alice"})


@pytest.mark.parametrize(
    ("token", "chats", "message"),
    [
        ("", "1:alice", "TELEGRAM_BOT_TOKEN is not set"),
        ("1:x", "", "TELEGRAM_ALLOWED_CHATS is empty"),
        ("1:x", "1:alice;2:bob", "TELEGRAM_ALLOWED_CHATS: '1:alice;2:bob' is not chat id:username"),
        ("1:x", "1:alice,2:mallory", "no active Django user named mallory"),
    ],
)
def test_run_telegram_refuses_to_start_naming_the_variable(settings, alice, token, chats, message):
    from django.core.management import CommandError, call_command

    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_ALLOWED_CHATS = token, chats
    with pytest.raises(CommandError, match=message):
        call_command("run_telegram")


def test_replies_follow_the_users_saved_language(btc, alice):
    from core.models import UserPreference
    from remote.access import speaking_to

    def read(name: str, args: list[str]) -> str:
        with speaking_to(alice.pk):  # what the bot does for each update
            try:
                return replies.read_command(name, args, timezone.now())
            except replies.BadArgument as exc:
                return str(exc)

    assert read("help", []).startswith("CoinPilot remote control")  # no preference: the alert language, en
    assert "value 499,750 KRW" in read("positions", [])

    UserPreference.objects.create(user=alice, language="ko")
    assert read("help", []).startswith("CoinPilot 원격 제어")
    positions = read("positions", [])
    assert "평가 금액 499,750원" in positions and "0.0049975 @ 100,000,000" in positions
    assert "입력: -3" in read("profit", ["-3"])
    with speaking_to(alice.pk):
        reply = actions.propose(
            actions.parse("close", ["KRW-BTC"]), chat_id=1, user=alice, now=timezone.now()
        )
    assert "약 499,750원" in reply.text and [label for label, _ in reply.buttons] == ["확인", "취소"]


def test_without_a_preference_replies_use_the_alert_language(alice, settings):
    from remote.access import speaking_to

    settings.ALERT_LANGUAGE = "ko"
    with speaking_to(alice.pk):
        assert replies.help_text().startswith("CoinPilot 원격 제어")
