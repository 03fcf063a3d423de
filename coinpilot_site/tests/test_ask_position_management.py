"""Ask CoinPilot knows scale-outs, risk-based sizing and the re-entry cooldown: the tool schemas
sent to the model name every exit reason and risk type with its meaning, and the tool results
carry the rows plus the meaning of the codes they contain."""

import json
from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest

from coinpilot_site.ask import loop, registry
from core.notifications import embeds
from tests.fakes.anthropic import text_turn, tool_turn
from tests.scale_out import SIZING, book_scale_out, reentry_refusal
from trading.glossary import EXIT_REASONS, RISK_EVENTS

from .test_ask_tools import NOW

PARTIAL = "PARTIAL_TAKE_PROFIT"


@pytest.fixture
def scaled(db, redis_conn, django_capture_on_commit_callbacks):
    scaled = book_scale_out(at=NOW - timedelta(hours=6), price=Decimal(90_000_000))
    with django_capture_on_commit_callbacks(execute=True):  # the refusal's alert is queued on commit
        reentry_refusal(at=NOW - timedelta(minutes=90))
    return scaled


def run(name: str, **args):
    return registry.call(name, args, NOW)


def param(tool: str, name: str) -> dict:
    schema = next(s for s in registry.schemas() if s["name"] == tool)
    return schema["input_schema"]["properties"][name]


def test_the_schemas_name_every_exit_reason_and_risk_type_with_its_meaning():
    exit_reason = param("get_trades", "exit_reason")
    assert PARTIAL in exit_reason["enum"]
    assert f"{PARTIAL} = {EXIT_REASONS[PARTIAL]}" in exit_reason["description"]
    assert all(f"{code} = " in exit_reason["description"] for code in exit_reason["enum"])
    violation = param("get_risk_audits", "violation_type")["description"]
    assert f"REENTRY_COOLDOWN = {RISK_EVENTS['REENTRY_COOLDOWN']}" in violation
    assert f"COOLDOWN = {RISK_EVENTS['COOLDOWN']}" in violation


def test_trades_give_scale_outs_their_level_and_meaning_and_buys_their_sizing(scaled):
    result = run("get_trades", exit_reason=PARTIAL)
    assert [(r["exit_reason"], r["signal_info"]["partial_levels_done"]) for r in result.data["rows"]] == [
        (PARTIAL, 2),
        (PARTIAL, 1),
    ]
    assert [r["pnl_krw"] for r in result.data["rows"]] == [
        t.signal_info["pnl"] for t in scaled.partials[::-1]
    ]
    assert result.data["exit_reasons"] == {PARTIAL: EXIT_REASONS[PARTIAL]}
    [buy] = run("get_trades", side="BUY").data["rows"]
    assert buy["signal_info"]["sizing"] == SIZING and run("get_trades", side="BUY").data["exit_reasons"] == {}


def test_a_reentry_cooldown_refusal_is_listed_with_the_other_refusals(scaled):
    result = run("get_risk_audits", **{"from": "2026-03-10"})
    [row] = result.data["rows"]
    assert row["violation_type"] == "REENTRY_COOLDOWN" and "sold lately" in row["description"]
    assert result.data["types"] == {"REENTRY_COOLDOWN": RISK_EVENTS["REENTRY_COOLDOWN"]}
    assert run("get_risk_audits", violation_type="REENTRY_COOLDOWN").rows == 1
    # its alert reads like the other refusals' (the cycle queued it with the audit row)
    [(event, payload)] = [job.args for job in django_rq.get_queue("notifications").jobs]
    embed = embeds.render(event, payload, NOW)
    assert embed["title"] == "Risk: Entry refused: re-entry cooldown (symbol sold lately) · KRW-BTC"


def test_the_report_tools_count_scale_outs_and_explain_them(scaled):
    daily = run("get_daily_report", **{"from": "2026-03-10"}).data
    assert daily["by_exit_reason"][PARTIAL]["count"] == 2 and daily["sells"] == 3
    assert daily["exit_reasons"][PARTIAL] == EXIT_REASONS[PARTIAL]
    assert any("scale-outs" in note for note in daily["notes"])
    weekly = run("get_weekly_exit_report", days=7).data
    groups = {r["exit_reason"]: r for r in weekly["by_regime_and_exit_reason"]}
    assert groups[PARTIAL]["count"] == 2 and groups[PARTIAL]["early_exit_rate"] is None
    assert set(weekly["exit_reasons"]) == {PARTIAL, "TAKE_PROFIT"}


def test_the_model_is_offered_the_meanings_and_gets_the_scale_outs_back(fake, scaled):
    fake.script(
        tool_turn("get_trades", {"exit_reason": PARTIAL}),
        text_turn("Two scale-outs today: level 1 and level 2 of the BTC position."),
    )
    run_ = loop.answer("Did we take partial profits today?", [], NOW)
    try:
        while True:
            next(run_)
    except StopIteration as done:
        answer = done.value
    assert answer.status == "ok" and answer.unverified == []
    first, second = (r.body for r in fake.requests)
    tools = {t["name"]: t for t in first["tools"]}
    assert EXIT_REASONS[PARTIAL] in json.dumps(tools["get_trades"]["input_schema"])
    assert RISK_EVENTS["REENTRY_COOLDOWN"] in json.dumps(tools["get_risk_audits"]["input_schema"])
    result = json.loads(second["messages"][2]["content"][0]["content"])
    assert result["exit_reasons"] == {PARTIAL: EXIT_REASONS[PARTIAL]} and result["count"] == 2
