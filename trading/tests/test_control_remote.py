"""The controls the Telegram bot and the token API call: pause/resume entries, close one position,
kill switch + flatten; each audited with the user who asked."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from trading import cycle, risk
from trading.control import NoPosition, close_position, kill_and_flatten, pause_entries, resume_entries
from trading.models import Position, RiskAudit, Trade, TradingControl
from trading.tests.test_control import held_btc  # noqa: F401 (fixture)
from trading.tests.test_cycle import btc, buy_signal, run, strategy_for_btc  # noqa: F401 (fixtures)
from trading.tests.test_risk import blocked_by, context

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="x-long-password-1")


def test_pause_and_resume_are_audited_with_the_user(alice):
    pause_entries(user=alice, reason="news at 9")
    control = TradingControl.current()
    assert control.entries_paused and not control.kill_switch and control.changed_by == alice
    audit = RiskAudit.objects.get()
    assert (audit.violation_type, audit.description) == (
        "ENTRIES_PAUSED",
        "new entries paused: news at 9 (by alice)",
    )
    resume_entries(user=alice)
    assert not TradingControl.current().entries_paused
    assert RiskAudit.objects.order_by("-id")[0].description == "new entries resumed (by alice)"


def test_the_risk_manager_refuses_entries_while_paused():
    assert blocked_by(context(entries_paused=True)) == "ENTRIES_PAUSED"
    assert blocked_by(context(entries_paused=False)) is None
    assert risk.EntriesPaused().check(context(), 0) is None


def test_a_paused_cycle_refuses_the_buy_with_its_own_reason(btc, strategy_for_btc, monkeypatch):  # noqa: F811
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    pause_entries(reason="test")
    [result] = run(btc)
    assert (result.action, result.reason) == ("BLOCKED", "ENTRIES_PAUSED")
    assert not Trade.objects.exists()
    assert RiskAudit.objects.filter(violation_type="ENTRIES_PAUSED").count() == 2  # the pause + the refusal


def test_close_position_sells_it_and_names_the_user(held_btc, alice):  # noqa: F811
    lines = close_position("KRW-BTC", user=alice)
    assert lines[0].startswith("KRW-BTC: sold")
    assert Trade.objects.get(side="SELL").exit_reason == "MANUAL"
    audit = RiskAudit.objects.get(violation_type="MANUAL_CLOSE")
    assert audit.symbol == "KRW-BTC" and "(by alice)" in audit.description
    with pytest.raises(NoPosition, match="no open position in KRW-BTC"):
        close_position("KRW-BTC", user=alice)


def test_kill_and_flatten_turns_the_switch_on_and_sells_everything(held_btc, alice):  # noqa: F811
    lines = kill_and_flatten(user=alice, reason="telegram /flatten")
    control = TradingControl.current()
    assert control.kill_switch and control.changed_by == alice and control.reason == "telegram /flatten"
    assert not Position.objects.exists() and len(lines) == 1
    assert "(by alice)" in RiskAudit.objects.get(violation_type="FLATTEN_ALL").description


def test_the_sale_reads_in_the_operators_language_and_the_audit_stays_english(held_btc, alice):  # noqa: F811
    with translation.override("ko"):
        [line] = close_position("KRW-BTC", user=alice)
    assert (
        line.startswith("KRW-BTC: 0.0049975개를 ")
        and "에 매도했습니다 (손익 " in line
        and line.endswith("원)")
    )
    audit = RiskAudit.objects.get(violation_type="MANUAL_CLOSE").description
    assert (
        audit.startswith("close KRW-BTC at market (by alice): KRW-BTC: sold 0.0049975 at ")
        and "KRW)" in audit
    )
