"""Control actions through the API change the state, through trading.control, audited with the
token's user; bad input is refused with nothing changed."""

import json

import pytest

from trading.models import Position, RiskAudit, Trade, TradingControl

from .conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def act(client, control_token):
    def post(path: str, body: dict | None = None, raw: str | None = None):
        data = raw if raw is not None else json.dumps(body or {})
        return client.post(
            f"/api/v1/control/{path}", data, content_type="application/json", **bearer(control_token)
        )

    return post


def test_kill_switch_on_and_off_audited_with_the_tokens_user(act, ops):
    response = act("kill-switch", {"on": True, "reason": "exchange maintenance"})
    assert response.status_code == 200
    body = response.json()
    assert (
        body["by"] == "ops"
        and body["kill_switch"]["on"] is True
        and body["kill_switch"]["changed_by"] == "ops"
    )
    control = TradingControl.current()
    assert control.kill_switch and control.reason == "exchange maintenance" and control.changed_by == ops
    assert RiskAudit.objects.get().description == "kill switch turned ON: exchange maintenance"
    assert act("kill-switch", {"on": False}).status_code == 200
    control = TradingControl.current()
    assert not control.kill_switch and control.reason == "API token 'phone'"  # which token, when no reason


def test_flatten_turns_the_kill_switch_on_and_sells_everything(act, ops, held_btc):
    body = act("flatten", {"reason": "going offline"}).json()
    assert body["kill_switch"]["on"] is True and body["lines"][0].startswith("KRW-BTC: sold")
    assert not Position.objects.exists()
    assert Trade.objects.get(side="SELL").exit_reason == "KILL_SWITCH"
    assert TradingControl.current().changed_by == ops
    assert RiskAudit.objects.filter(description__contains="(by ops)").exists()


def test_close_sells_one_symbol_as_manual(act, held_btc):
    response = act("close", {"symbol": "krw-btc"})
    assert response.status_code == 200 and response.json()["action"] == "close KRW-BTC"
    assert Trade.objects.get(side="SELL").exit_reason == "MANUAL"
    assert RiskAudit.objects.get(violation_type="MANUAL_CLOSE").description.startswith(
        "close KRW-BTC at market (by ops)"
    )
    assert not TradingControl.current().kill_switch  # closing one position is not the kill switch


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"symbol": "KRW-ETH"}, 404, "no open position in KRW-ETH"),
        ({"symbol": "ETH"}, 400, "write it as KRW-ETH"),
        ({"symbol": "KRW-NOPE"}, 400, "KRW-NOPE is not traded by CoinPilot"),
        ({"symbol": ""}, 400, "which market to close"),
        ({}, 400, "symbol: Field required"),
    ],
)
def test_close_refuses_what_it_cannot_sell(act, held_btc, body, status, message):
    response = act("close", body)
    assert response.status_code == status and message in response.json()["error"]
    assert Position.objects.exists() and not RiskAudit.objects.exists()


def test_pause_and_flatten_need_no_body(client, control_token, held_btc):
    paused = client.generic("POST", "/api/v1/control/pause-entries", **bearer(control_token))  # curl -X POST
    assert paused.status_code == 200 and paused.json()["kill_switch"]["entries_paused"] is True
    assert "API token 'phone' (by ops)" in RiskAudit.objects.get().description
    flat = client.generic("POST", "/api/v1/control/flatten", **bearer(control_token))
    assert flat.status_code == 200 and not Position.objects.exists()
    assert TradingControl.current().reason == "API token 'phone'"


def test_pause_and_resume_entries(act, ops):
    body = act("pause-entries", {"reason": "news at 10"}).json()
    assert body["kill_switch"]["entries_paused"] is True and body["kill_switch"]["on"] is False
    control = TradingControl.current()
    assert control.entries_paused and control.changed_by == ops
    assert "news at 10 (by ops)" in RiskAudit.objects.get(violation_type="ENTRIES_PAUSED").description
    assert act("resume").json()["kill_switch"]["entries_paused"] is False
    assert not TradingControl.current().entries_paused


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("kill-switch", {"reason": "x"}, "on: Field required"),
        ("kill-switch", {"on": "perhaps"}, "on: Input should be a valid boolean"),
        (
            "kill-switch",
            {"on": True, "reason": "x" * 201},
            "reason: String should have at most 200 characters",
        ),
        ("pause-entries", {"reason": "bad\x00byte"}, "reason: String should match pattern"),
        ("flatten", None, "body: "),
    ],
)
def test_bad_bodies_are_refused_with_nothing_changed(act, held_btc, path, body, message):
    response = act(path, body) if body is not None else act(path, raw="{not json")
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]
    control = TradingControl.current()
    assert not control.kill_switch and not control.entries_paused
    assert Position.objects.exists() and not RiskAudit.objects.exists()
