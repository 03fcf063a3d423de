"""The weekly job, suggestions kept for the admin, applying one (never automatic), the command."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from analytics import jobs
from analytics.models import TuningSuggestion
from analytics.suggestions import SuggestionError, apply_suggestion
from coinpilot_site.schedule import SCHEDULES
from tests.fakes.discord import FakeDiscord, configure, validate_message
from trading.config import load_strategy
from trading.models import StrategyConfig

from .helpers import sell

SUNDAY = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)  # Sunday 22:00 KST
H = timedelta(hours=1)


@pytest.fixture
def week(db):
    """10 BULL trailing exits in the week, 7 of which rose >= 2 % within 24 h; 3 TIME_LIMIT losses."""
    for n in range(10):
        post = {"4h": {"change_pct": 2.5 if n < 7 else 0.5}, "24h": {"change_pct": 1.5 - n}}
        sell(SUNDAY - (n + 2) * H, entry="100", price="103", exit_reason="TRAILING_STOP", post=post)
    for n in range(3):
        sell(SUNDAY - (n + 30) * H, entry="100", price="99", exit_reason="TIME_LIMIT", regime="SIDEWAYS")
    sell(SUNDAY - 8 * 24 * H, entry="100", price="1", exit_reason="STOP_LOSS")  # before the week


def test_schedules_are_declared_with_their_grace():
    table = {s.name: s for s in SCHEDULES}
    assert (table["track_post_exit_prices"].cron, table["track_post_exit_prices"].grace) == (
        "*/10 * * * *",
        300,
    )
    assert (table["daily_report"].cron, table["daily_report"].tz, table["daily_report"].grace) == (
        "0 22 * * *",
        "Asia/Seoul",
        3600,
    )
    weekly = table["weekly_exit_report"]
    assert weekly.due_slot(SUNDAY + H) == SUNDAY and weekly.grace == 3600
    assert table["daily_report"].due_slot(SUNDAY + H) == SUNDAY


def test_weekly_job_sends_the_table_and_keeps_the_suggestions(
    week, settings, run_jobs, django_capture_on_commit_callbacks
):
    with FakeDiscord() as discord:
        configure(settings, discord)
        with django_capture_on_commit_callbacks(execute=True), time_machine.travel(SUNDAY + 5 * H / 3600):
            result = jobs.weekly_exit_report(slot=SUNDAY)
            jobs.weekly_exit_report(slot=SUNDAY)  # a second run adds no second suggestion
        run_jobs("notifications")

    assert result == "13 SELLs, 2 groups, suggestions suggest"
    [suggestion] = TuningSuggestion.objects.all()
    assert str(suggestion) == "BULL trailing_stop_pct 2.0 -> 2.5"
    assert suggestion.reason == "7 of 10 trailing exits rose >= 2 % within 24 h"
    assert (suggestion.report_date, suggestion.strategy_version) == (date(2026, 11, 22), 1)
    embed = discord.embeds[0]
    assert embed["title"] == "Weekly exit report · last 7 days"
    assert "BULL trailing_stop_pct 2.0 -> 2.5" in embed["description"]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert "Early exit 70% (7/10)" in fields["BULL · TRAILING_STOP"]
    assert "Over hold 100% (3/3)" in fields["SIDEWAYS · TIME_LIMIT"]
    assert validate_message({"embeds": [embed]}) == []
    assert load_strategy().version == 1  # nothing applied automatically


def make_suggestion(**fields) -> TuningSuggestion:
    values = {"report_date": date(2026, 11, 22), "regime": "BULL", "parameter": "trailing_stop_pct"}
    values |= {"current_value": 2.0, "proposed_value": 2.5, "reason": "7 of 10", "strategy_version": 1}
    return TuningSuggestion.objects.create(**values | fields)


@pytest.mark.django_db
def test_applying_a_suggestion_stores_a_new_version_with_a_note(admin_user):
    suggestion = make_suggestion()
    version = apply_suggestion(suggestion, admin_user)

    assert (version.version, version.is_active, version.created_by) == (2, True, admin_user)
    assert version.note == f"suggestion #{suggestion.pk} (2026-11-22): BULL trailing_stop_pct 2.0 -> 2.5"
    assert load_strategy().for_regime("BULL").trailing_stop_pct == 2.5
    assert load_strategy().for_regime("SIDEWAYS").trailing_stop_pct == 1.5  # the rest unchanged
    suggestion.refresh_from_db()
    assert (suggestion.applied_version, suggestion.applied_by) == (2, admin_user)
    with pytest.raises(SuggestionError, match="already applied"):
        apply_suggestion(suggestion, admin_user)


@pytest.mark.django_db
def test_a_suggestion_made_for_another_value_is_refused():
    suggestion = make_suggestion(current_value=1.8)
    with pytest.raises(SuggestionError, match="is 2 now"):
        apply_suggestion(suggestion)
    assert StrategyConfig.objects.count() == 1


@pytest.mark.django_db
def test_admin_action_applies_exactly_one_suggestion(admin_client):
    first, second = (
        make_suggestion(),
        make_suggestion(parameter="take_profit_pct", current_value=5, proposed_value=6),
    )
    url = reverse("admin:analytics_tuningsuggestion_changelist")
    assert b"Apply this suggestion" in admin_client.get(url).content

    both = {"action": "apply", "_selected_action": [first.pk, second.pk]}
    admin_client.post(url, both, follow=True)
    assert StrategyConfig.objects.count() == 1

    page = admin_client.post(url, {"action": "apply", "_selected_action": [second.pk]}, follow=True)
    assert b"Strategy v2 is now active" in page.content
    assert load_strategy().for_regime("BULL").take_profit_pct == 6


@time_machine.travel(SUNDAY + H, tick=False)
def test_report_command_prints_both_reports_in_krw_and_kst(week):
    out = StringIO()
    call_command("report", "daily", "--date", "2026-11-22", stdout=out)
    text = out.getvalue()
    assert "Daily report 2026-11-22 (KST), 11-21 22:00 - 11-22 22:00" in text
    assert "SELLs: 10" in text and "Realized PnL: +30 KRW" in text  # the 10 trailing exits of the 24 h
    assert "Summary:\n10 SELLs, realized +30 KRW" in text  # no OpenAI key in tests: the fallback

    out = StringIO()
    call_command("report", "weekly", "--date", "2026-11-22", stdout=out)
    text = out.getvalue()
    assert "13 SELLs" in text and "BULL     TRAILING_STOP" in text
    assert "BULL trailing_stop_pct 2.0 -> 2.5" in text
    assert not TuningSuggestion.objects.exists()  # only --send keeps them


@pytest.mark.django_db
def test_report_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--date"):
        call_command("report", "daily", "--date", "22/11/2026", stdout=StringIO())
