"""The gate the bot cycle asks: off without a key, the agent's verdict with one."""

import pytest
from django.db import connections, transaction

from agents import gate
from agents.models import AgentDecision
from conftest import real_services_configured

from .conftest import make_request


@pytest.mark.django_db
def test_without_a_key_the_gate_is_off_and_logs_nothing(settings):
    settings.ANTHROPIC_API_KEY = ""
    assert gate.ask(make_request()) == gate.GateVerdict(True, gate.AI_OFF)
    assert not AgentDecision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_with_a_key_the_gate_returns_the_agents_approval(fake, bars):
    verdict = gate.ask(make_request())
    assert verdict.approved and verdict.reason.startswith("AI: approved: Analyst:")
    assert AgentDecision.objects.get(pk=verdict.decision_id).decision == "APPROVED"
    assert fake.requests[0].headers.get("Authorization") == "Bearer sk-ant-test-fake"


@pytest.mark.django_db(transaction=True)
def test_with_a_key_the_gate_returns_the_agents_veto(fake, bars):
    fake.script("reject")
    verdict = gate.ask(make_request())
    assert not verdict.approved and "weak bounce" in verdict.reason
    assert AgentDecision.objects.get(pk=verdict.decision_id).decision == "REJECTED"


@pytest.fixture
def log_connection():
    yield
    connections["agents_log"].close()  # or the test database cannot be dropped at the end of the run


@pytest.mark.skipif(not real_services_configured(), reason="a second connection needs PostgreSQL")
@pytest.mark.django_db(transaction=True, databases=["default", "agents_log"])
def test_the_decision_survives_a_rollback_of_the_callers_transaction(fake, bars, log_connection):
    fake.script("reject")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        AgentDecision.objects.create(symbol="KRW-OTHER", decision="SKIPPED")  # the caller's own write
        verdict = gate.ask(make_request())
        raise Rollback
    assert list(AgentDecision.objects.values_list("pk", "decision")) == [(verdict.decision_id, "REJECTED")]
