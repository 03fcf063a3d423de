"""Cached dashboard aggregates: computed once per minute per process, recomputed at once when a
new trade or decision arrives; every response says how long the server took (Server-Timing)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import AgentDecision
from trading.dashboard import equity_curve
from trading.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def real_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


def sell(n: int, pnl: str) -> Trade:
    return Trade.objects.create(
        symbol="KRW-BTC",
        side="SELL",
        price=1,
        quantity=1,
        status="FILLED",
        client_order_id=f"cache-{n}",
        executed_at=timezone.now() - timedelta(minutes=10 - n),
        signal_info={"pnl": pnl},
    )


def test_equity_curve_is_cached_until_a_new_trade(django_assert_num_queries):
    sell(1, "100")
    first = equity_curve(initial=Decimal(1000))
    with django_assert_num_queries(1):  # only the newest-id probe
        assert equity_curve(initial=Decimal(1000)) == first
    sell(2, "-40")
    assert equity_curve(initial=Decimal(1000))["equity"] == [1100.0, 1060.0]


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_exit_analysis_is_computed_once_per_new_trade(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    sell(1, "100")
    cold = queries_of(client, "/exits/?days=30")
    assert queries_of(client, "/exits/?days=30") < cold  # the sells are not read again
    sell(2, "-5")
    assert queries_of(client, "/exits/?days=30") == cold


def test_system_scorecard_waits_a_minute_for_late_prices_but_not_for_new_decisions(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    veto = AgentDecision.objects.create(
        symbol="KRW-BTC", decision="REJECTED", regime="BULL", price_at_decision=100
    )
    assert "No AI decision with a later price yet." in client.get("/system/").content.decode()
    AgentDecision.objects.filter(pk=veto.pk).update(price_1h=90)  # the tracker job, no new row
    assert "No AI decision with a later price yet." in client.get("/system/").content.decode()
    AgentDecision.objects.create(symbol="KRW-ETH", decision="APPROVED", regime="BULL", price_at_decision=5)
    page = client.get("/system/").content.decode()
    assert "No AI decision with a later price yet." not in page and "-10.0 %" in page


def test_every_response_reports_the_server_time(client):
    response = client.get("/healthz")
    assert response["Server-Timing"].startswith("app;dur=")
    assert float(response["Server-Timing"].split("=")[1]) >= 0
