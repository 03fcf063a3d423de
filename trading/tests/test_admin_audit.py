"""The risk audit's admin list: its event-type filter finds the types without reading every event."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.admin_filters import distinct_values
from trading.models import RiskAudit

pytestmark = pytest.mark.django_db


def test_distinct_values_are_the_stored_values_sorted():
    assert distinct_values(RiskAudit, "violation_type") == []
    for kind in ["MAX_POSITIONS", "COOLDOWN", "MAX_POSITIONS", "KILL_SWITCH", "COOLDOWN", "AI_VETO"]:
        RiskAudit.objects.create(violation_type=kind, description="refused")
    expected = sorted(set(RiskAudit.objects.values_list("violation_type", flat=True)))
    assert distinct_values(RiskAudit, "violation_type") == expected == [
        "AI_VETO", "COOLDOWN", "KILL_SWITCH", "MAX_POSITIONS"
    ]  # fmt: skip


def test_the_admin_filters_by_event_type_without_a_distinct_over_every_event(client):
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw-123456789-long"))
    for kind in ["COOLDOWN", "KILL_SWITCH", "COOLDOWN"]:
        RiskAudit.objects.create(violation_type=kind, description=f"{kind} event")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/trading/riskaudit/").content.decode()
    assert "?violation_type=COOLDOWN" in page and "?violation_type=KILL_SWITCH" in page
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    shown = client.get("/admin/trading/riskaudit/?violation_type=KILL_SWITCH").context["cl"].result_list
    assert [event.violation_type for event in shown] == ["KILL_SWITCH"]
