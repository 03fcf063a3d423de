"""The day and week risk rows in the database, and the weekly / unrealised loss limits as
configuration: parsing, validation in trader words, versions and the admin form."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import import_module
from types import SimpleNamespace

import django_rq
import pytest
from django.apps import apps

from trading import booking, config, risk
from trading.cycle import marked_exposure
from trading.fills import sell_fill
from trading.models import Account, DailyRiskState, Position, RiskAudit, RiskConfig
from trading.tests.test_admin_config import change_url, errors_of
from trading.tests.test_booking import INITIAL, LIMITS, assert_books_balance, buy

D = Decimal
KST = risk.KST

pytestmark = pytest.mark.django_db


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in January 2030, KST (the 6th is a Sunday, the 7th a Monday)."""
    return datetime(2030, 1, day, hour, minute, tzinfo=KST)


def loss_at(moment: datetime, price: str = "99000000", limits=LIMITS) -> None:
    """A round trip bought 5 minutes before `moment` and stopped out at `moment`."""
    opened = moment - timedelta(minutes=5)
    buy(at=opened, coid=f"KRW-BTC-{opened:%d%H%M}-BUY")
    booking.book_sell(
        symbol="KRW-BTC",
        fill=sell_fill(quantity=Position.objects.get(symbol="KRW-BTC").quantity, reference=D(price)),
        client_order_id=f"KRW-BTC-{moment:%d%H%M}-SELL",
        reason="STOP_LOSS",
        at=moment,
        limits=limits,
    )


def entry_check(at: datetime) -> risk.Block | None:
    """What the live cycle's risk check says about a new entry at `at` (nothing held)."""
    account = booking.account_for("paper")
    ctx = risk.EntryContext(
        symbol="KRW-BTC",
        now=at,
        cash=account.balance,
        exposure=D(0),
        open_positions=0,
        day=booking.day_state(booking.day_row(at, account)),
        limits=config.load_risk(),
    )
    return risk.check_entry(ctx)[1]


def test_three_stop_losses_before_midnight_still_cool_down_after_it():
    for minute in (5, 15, 25):
        loss_at(kst(6, 23, minute))
    before = DailyRiskState.objects.get(date="2030-01-06")
    assert before.cooldown_until == kst(7, 1, 25)  # 23:25 KST + 2 h

    refused = entry_check(kst(7, 0, 5))
    assert refused.violation_type == "COOLDOWN" and "until 01:25 KST" in refused.description
    today = DailyRiskState.objects.get(date="2030-01-07")
    assert (today.trade_count, today.total_pnl, today.consecutive_losses) == (0, 0, 3)
    assert today.cooldown_until == kst(7, 1, 25)
    assert today.starting_equity == Account.objects.get(name="paper").balance  # nothing held
    assert entry_check(kst(7, 1, 24)).violation_type == "COOLDOWN"
    assert entry_check(kst(7, 1, 25)) is None
    assert_books_balance()


def test_the_daily_halt_and_counters_do_not_carry_into_the_next_day():
    halting = replace(LIMITS, max_daily_loss_pct=D("0.05"))  # 5,000 KRW; one stop loss is ~5,500
    loss_at(kst(6, 20), limits=halting)
    assert DailyRiskState.objects.get(date="2030-01-06").is_trading_halted
    today = booking.day_row(kst(7, 0, 0), booking.account_for("paper"))
    assert (today.is_trading_halted, today.halt_reason, today.trade_count, today.consecutive_losses) == (
        False,
        "",
        0,
        1,
    )


def test_the_week_carries_its_equity_and_pnl_until_monday():
    loss_at(kst(5, 10))  # Saturday
    loss_at(kst(6, 10))  # Sunday: same week, which began before Saturday's first trade
    saturday, sunday = (DailyRiskState.objects.get(date=f"2030-01-0{d}") for d in (5, 6))
    assert saturday.week_starting_equity == sunday.week_starting_equity == INITIAL
    assert sunday.week_pnl == saturday.total_pnl + sunday.total_pnl < 0
    monday = booking.day_row(kst(7, 0, 0), booking.account_for("paper"))
    assert monday.week_pnl == 0 and not monday.is_week_halted
    assert monday.week_starting_equity == monday.starting_equity == Account.objects.get(name="paper").balance


def test_the_weekly_limit_halts_entries_with_an_audit_row_and_an_alert(django_capture_on_commit_callbacks):
    weekly = replace(LIMITS, max_weekly_loss_pct=D("0.2"), max_daily_loss_pct=D("0.2"))
    with django_capture_on_commit_callbacks(execute=True):
        loss_at(kst(4, 10), limits=weekly)  # Friday: about -5,500 KRW each, limit 20,000 KRW
        loss_at(kst(5, 10), limits=weekly)
        loss_at(kst(5, 11), limits=weekly)
        loss_at(kst(6, 10), limits=weekly)
    halts = RiskAudit.objects.filter(violation_type="WEEKLY_LOSS_HALT")
    assert halts.count() == 1 and "Monday 00:00 KST" in halts.get().description
    alerts = [j.args[1]["kind"] for j in django_rq.get_queue("notifications").jobs if j.args[0] == "risk"]
    assert "WEEKLY_LOSS_HALT" in alerts
    sunday = DailyRiskState.objects.get(date="2030-01-06")
    assert sunday.is_week_halted and not sunday.is_trading_halted
    assert entry_check(kst(6, 23, 59)).violation_type == "WEEKLY_HALTED"
    assert entry_check(kst(7, 0, 0)) is None  # Monday 00:00 KST: a new week
    assert_books_balance()


def test_the_migration_fills_in_the_week_of_existing_rows():
    fill_weeks = import_module("trading.migrations.0007_risk_limits").fill_weeks
    for day, pnl in ((5, "-100"), (6, "-200"), (7, "-50")):  # Sat, Sun, then Monday
        DailyRiskState.objects.create(date=f"2030-01-0{day}", starting_equity=D(1000 + day), total_pnl=D(pnl))
    fill_weeks(apps, None)
    rows = {r.date.day: (r.week_starting_equity, r.week_pnl) for r in DailyRiskState.objects.all()}
    assert rows == {5: (1005, -100), 6: (1005, -300), 7: (1007, -50)}


# --- configuration ---


def test_versions_without_the_new_limits_read_as_15_percent_and_realised_only():
    assert "max_weekly_loss_pct" not in config.load_defaults()["risk"]  # the seed file predates them
    limits = config.default_risk()
    assert limits.max_weekly_loss_pct == D(15) and limits.daily_loss_includes_unrealized is False
    row = RiskConfig.objects.get(version=1)
    assert (row.max_weekly_loss_pct, row.daily_loss_includes_unrealized) == (D(15), False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_weekly_loss_pct": "0"}, "max_weekly_loss_pct is 0%, it must be above 0 and at most 100"),
        ({"max_weekly_loss_pct": "101"}, "max_weekly_loss_pct is 101%"),
        (
            {"max_weekly_loss_pct": "4"},
            "max_weekly_loss_pct (4%) is below max_daily_loss_pct (5%): one bad day would halt the week",
        ),
        ({"daily_loss_includes_unrealized": "yes"}, "daily_loss_includes_unrealized must be yes or no"),
    ],
)
def test_new_limits_are_validated(changes, message):
    with pytest.raises(config.ConfigError) as exc:
        config.parse_risk(config.load_defaults()["risk"] | changes)
    assert any(m.startswith(message) for m in exc.value.messages), exc.value.messages


def test_new_limits_are_versioned_like_the_others():
    values = config.load_defaults()["risk"] | {
        "max_weekly_loss_pct": "10",
        "daily_loss_includes_unrealized": True,
    }
    row = config.save_risk_version(values=values, note="stricter week")
    limits = config.load_risk()
    assert (limits.version, limits.max_weekly_loss_pct, limits.daily_loss_includes_unrealized) == (
        2,
        10,
        True,
    )
    assert config.diff_risk(RiskConfig.objects.get(version=1), row) == [
        "max_weekly_loss_pct: 15.00 -> 10",
        "daily_loss_includes_unrealized: False -> True",
    ]


def admin_risk_form(row: RiskConfig, **changes) -> dict:
    data = {name: str(getattr(row, name)) for name in config.RISK_FIELDS if name not in config.RISK_SWITCHES}
    data |= {name: "on" for name in config.RISK_SWITCHES if getattr(row, name)}
    return data | {k: str(v) for k, v in changes.items()} | {"note": ""}


def test_admin_form_shows_the_weekly_limit_and_the_unrealised_switch(admin_client):
    page = admin_client.get(change_url(RiskConfig.objects.get(version=1))).content.decode()
    assert 'class="fieldset-heading">Weekly limit</h2>' in page
    assert "Weekly loss limit (% of the week&#x27;s starting equity)" in page
    assert 'type="checkbox" name="daily_loss_includes_unrealized"' in page
    assert "Count unrealized losses in the daily limit" in page


def test_admin_refuses_a_weekly_limit_below_the_daily_one_on_its_field(admin_client):
    v1 = RiskConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), admin_risk_form(v1, max_weekly_loss_pct="3"))
    assert errors_of(response)["max_weekly_loss_pct"] == [
        "Weekly loss limit (3%) is below Daily loss limit (5%): one bad day would halt the week"
    ]
    assert RiskConfig.objects.count() == 1


def test_admin_saves_the_switch_as_a_new_version(admin_client):
    v1 = RiskConfig.objects.get(version=1)
    form = admin_risk_form(v1, daily_loss_includes_unrealized="on", max_weekly_loss_pct="12")
    assert admin_client.post(change_url(v1), form).status_code == 302
    active = RiskConfig.objects.get(is_active=True)
    assert (active.version, active.daily_loss_includes_unrealized, active.max_weekly_loss_pct) == (
        2,
        True,
        12,
    )
    v1.refresh_from_db()
    assert v1.daily_loss_includes_unrealized is False  # history unchanged


def test_the_cycle_marks_open_positions_at_its_latest_closes():
    held = {
        "KRW-BTC": Position(symbol="KRW-BTC", quantity=D("0.01"), avg_price=D("100000000")),
        "KRW-ETH": Position(symbol="KRW-ETH", quantity=D("2"), avg_price=D("4000000")),
    }
    ctx = SimpleNamespace(positions=held, closes={"KRW-BTC": 95_000_000.0})  # no ETH bar this cycle
    assert marked_exposure(ctx) == D("950000") + D("8000000")  # ETH at cost
