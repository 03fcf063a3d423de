"""`manage.py run_telegram` as a real process against the fake Telegram server (tests/fakes/telegram.py),
sharing the test's PostgreSQL and Redis: read commands, control commands confirmed end to end,
strangers, expiry, double taps, redelivered updates, 429 and other faults, a SIGKILL mid-command."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from market.models import Candle
from remote.models import Confirmation
from trading import booking
from trading.fills import buy_fill
from trading.models import Position, RiskAudit, Trade, TradingControl

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_services]
ALICE, BOB, STRANGER = 111, 222, 999


def hold(symbol: str, close: int, krw: int) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    Candle.objects.create(
        symbol=symbol,
        timestamp=now - timedelta(minutes=1),
        open=close,
        high=close,
        low=close,
        close=close,
        volume=1,
    )
    fill = buy_fill(krw=Decimal(krw), reference=Decimal(close))
    booking.book_buy(
        symbol=symbol, fill=fill, client_order_id=f"{symbol}-BUY", regime="BULL", at=now - timedelta(hours=1)
    )


@pytest.fixture
def users():
    model = get_user_model()
    return {
        "alice": model.objects.create_user("alice", password="x-long-password-1"),
        "bob": model.objects.create_user("bob", password="x-long-password-2"),
    }


@pytest.fixture
def start_bot(spawn, subprocess_env, fake_telegram, users, tmp_path):
    env = subprocess_env | {
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_BASE_URL": fake_telegram.api_url,
        "TELEGRAM_ALLOWED_CHATS": f"{ALICE}:alice, {BOB}:bob",
        "TELEGRAM_POLL_SECONDS": "2",
    }

    def start():
        polls = len(fake_telegram.calls("getUpdates"))
        process = spawn("run_telegram", env=env)
        # a start takes seconds, and many more while the machine is busy with the rest of the suite
        fake_telegram.wait_for(lambda: len(fake_telegram.calls("getUpdates")) > polls, timeout=90)
        return process

    start.log = lambda: "\n".join(p.read_text() for p in sorted(tmp_path.glob("run_telegram-*.log")))
    return start


def ask(fake, chat: int, text: str, timeout: float = 15.0):
    """Send `text` from `chat`; the bot's answer (the next message it sends there)."""
    count = len(fake.messages_to(chat))
    fake.send_text(chat, text)
    return fake.wait_for_message(chat, count + 1, timeout)


def tap(fake, chat: int, message, label: str, edits: int = 1) -> str:
    """Tap the button `label` of `message`; the message's text once the bot edited it."""
    [data] = [b["callback_data"] for b in message.buttons if b["text"] == label]
    before = len(message.edits)
    fake.press(chat, message.message_id, data)
    fake.wait_for(lambda: len(fake.message(message.message_id).edits) >= before + edits)
    return fake.message(message.message_id).text


def test_one_bot_process_answers_reads_and_carries_out_controls(fake_telegram, start_bot, users):
    """One process (each start costs seconds): the read commands, strangers and faults, then every
    control command confirmed end to end."""
    hold("KRW-BTC", 100_000_000, 500_000)
    hold("KRW-ETH", 4_000_000, 400_000)
    fake_telegram.fault("getUpdates", "500", "malformed")  # the bot keeps polling through both
    start_bot()
    reads_strangers_and_faults(fake_telegram, start_bot)
    every_control_command(fake_telegram, users)


def reads_strangers_and_faults(fake, start_bot) -> None:
    assert "/killswitch on|off" in ask(fake, ALICE, "/help").text
    status = ask(fake, ALICE, "/status").text
    assert "KRW-BTC" in status and "position:" in status and "Equity" in status
    positions = ask(fake, ALICE, "/positions").text
    assert "KRW-BTC (BULL)" in positions and "unrealized" in positions
    assert "Realized PnL, last 7 days" in ask(fake, ALICE, "/profit").text
    assert "last 30 days" in ask(fake, BOB, "/profit 30").text
    assert "number of days from 1 to 365" in ask(fake, ALICE, "/profit abc").text
    assert "Daily report" in ask(fake, ALICE, "/daily").text
    assert "Open positions: 2 of 3" in ask(fake, ALICE, "/risk").text
    assert "Calls today:" in ask(fake, ALICE, "/ai").text
    system = ask(fake, ALICE, "/system").text
    assert "Database: ok" in system and "KRW-BTC:" in system
    for message in fake.messages:
        assert len(message.text) <= 4096

    fake.send_text(STRANGER, "/status")
    fake.send_text(STRANGER, "/flatten")
    fake.wait_for(lambda: not fake.pending_update_ids() and "chat 999" in start_bot.log())
    assert ask(fake, ALICE, "/help")  # handled after the stranger's updates
    assert fake.messages_to(STRANGER) == []
    assert "ignored an update from chat 999 (not in TELEGRAM_ALLOWED_CHATS)" in start_bot.log()

    fake.retry_after = 1
    fake.fault("sendMessage", "429")
    answer = ask(fake, ALICE, "/help")
    first, second = fake.calls("sendMessage")[-2:]
    assert first.answer == "429" and second.answer == "ok" and "CoinPilot" in answer.text
    assert second.at - first.at >= 1.0  # Telegram's retry_after was honoured
    assert fake.token not in start_bot.log()


def every_control_command(fake, users) -> None:
    alice, bob = users["alice"], users["bob"]

    assert "Use /killswitch on [reason] or /killswitch off" in ask(fake, ALICE, "/killswitch maybe").text
    ask_on = ask(fake, ALICE, "/killswitch on exchange news")
    assert [b["text"] for b in ask_on.buttons] == [
        "Confirm",
        "Cancel",
    ] and "Turn the kill switch ON" in ask_on.text
    assert not TradingControl.current().kill_switch  # nothing before Confirm
    assert "Kill switch ON" in tap(fake, ALICE, ask_on, "Confirm")
    control = TradingControl.current()
    assert control.kill_switch and control.changed_by == alice and "alice" in control.reason
    assert (
        "exchange news (Telegram, alice)" in RiskAudit.objects.get(violation_type="KILL_SWITCH").description
    )
    assert "Kill switch off" in tap(fake, BOB, ask(fake, BOB, "/killswitch off"), "Confirm")
    control = TradingControl.current()
    assert not control.kill_switch and control.changed_by == bob

    pause = ask(fake, ALICE, "/pause_entries lunch")
    [data] = [b["callback_data"] for b in pause.buttons if b["text"] == "Confirm"]
    fake.press(ALICE, pause.message_id, data)  # a double tap: two callback queries
    fake.press(ALICE, pause.message_id, data)
    fake.wait_for(lambda: len(fake.message(pause.message_id).edits) >= 2)
    assert "Already done" in fake.message(pause.message_id).text
    assert RiskAudit.objects.filter(violation_type="ENTRIES_PAUSED").count() == 1
    assert TradingControl.current().entries_paused
    assert "(by alice)" in RiskAudit.objects.get(violation_type="ENTRIES_PAUSED").description
    assert "New entries resumed" in tap(fake, BOB, ask(fake, BOB, "/resume"), "Confirm")
    assert not TradingControl.current().entries_paused
    assert "(by bob)" in RiskAudit.objects.get(violation_type="ENTRIES_RESUMED").description

    assert "No open position in KRW-NOPE" in ask(fake, ALICE, "/close KRW-NOPE").text
    close = ask(fake, ALICE, "/close krw-eth")
    assert (
        "Sell KRW-ETH at market" in close.text and "Would sell" in close.text and "KRW-BTC" not in close.text
    )
    assert tap(fake, ALICE, close, "Cancel") == "Cancelled: nothing was done."
    close = ask(fake, ALICE, "/close KRW-ETH")
    Confirmation.objects.filter(state="pending").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in tap(fake, ALICE, close, "Confirm")
    assert Position.objects.filter(symbol="KRW-ETH").exists()
    close = ask(fake, ALICE, "/close KRW-ETH")
    assert "KRW-ETH: sold" in tap(fake, ALICE, close, "Confirm")
    assert not Position.objects.filter(symbol="KRW-ETH").exists()
    audit = RiskAudit.objects.get(violation_type="MANUAL_CLOSE")
    assert audit.symbol == "KRW-ETH" and "(by alice)" in audit.description

    flatten = ask(fake, BOB, "/flatten")
    assert "KRW-BTC" in flatten.text and "Total: ~" in flatten.text
    [data] = [b["callback_data"] for b in flatten.buttons if b["text"] == "Confirm"]
    confirm_update = fake.press(BOB, flatten.message_id, data)
    fake.wait_for(lambda: fake.message(flatten.message_id).edits)
    assert "KRW-BTC: sold" in fake.message(flatten.message_id).text
    assert not Position.objects.exists() and TradingControl.current().kill_switch
    assert TradingControl.current().changed_by == bob
    helps = len([m for m in fake.messages_to(ALICE) if m.text.startswith("CoinPilot remote")])
    fake.redeliver(confirm_update)  # Telegram offers them again: handled before, skipped
    help_update = fake.send_text(ALICE, "/help")
    fake.wait_for(lambda: not fake.pending_update_ids())
    fake.redeliver(help_update)
    fake.wait_for(lambda: not fake.pending_update_ids())
    assert ask(fake, ALICE, "/help")  # handled after the redelivered ones
    assert len([m for m in fake.messages_to(ALICE) if m.text.startswith("CoinPilot remote")]) == helps + 2
    assert len(fake.message(flatten.message_id).edits) == 1
    assert Trade.objects.filter(side="SELL").count() == 2


def test_killed_mid_command_and_restarted_acts_once(fake_telegram, start_bot):
    """SIGKILL after the sale, before the outcome reached Telegram: the tap was never confirmed,
    so Telegram offers it again; the restarted bot handles it once and sells nothing more."""
    hold("KRW-BTC", 100_000_000, 500_000)
    fake = fake_telegram
    first = start_bot()
    close = ask(fake, ALICE, "/close KRW-BTC")
    fake.fault("editMessageText", "hang")
    [data] = [b["callback_data"] for b in close.buttons if b["text"] == "Confirm"]
    tapped = fake.press(ALICE, close.message_id, data)
    fake.wait_for(lambda: fake.calls("editMessageText"))
    assert not Position.objects.exists()
    first.kill()
    first.wait()
    assert tapped in fake.pending_update_ids()  # not confirmed: Telegram offers it again
    fake.unhang()

    start_bot()
    fake.wait_for(lambda: fake.message(close.message_id).edits)
    assert "Already done" in fake.message(close.message_id).text
    assert "KRW-BTC: sold" in fake.message(close.message_id).text
    fake.wait_for(lambda: not fake.pending_update_ids())
    assert Trade.objects.filter(side="SELL").count() == 1
    assert RiskAudit.objects.filter(violation_type="MANUAL_CLOSE").count() == 1
    assert len(fake.messages_to(ALICE)) == 1
