"""Cached page aggregates: computed once a minute at most, recomputed at once when a new candle,
trade or decision arrives; every response says how long the server took (Server-Timing).
(The cache shared by processes on Redis, and Redis failing: core/tests/test_caching.py.)"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import AgentDecision
from analytics.tests import helpers
from coinpilot_site.pages import equity_chart
from conftest import store_minutes
from market.candles import CandleRow, store_candles
from trading.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def real_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


def sell(n: int, pnl: str) -> Trade:
    return helpers.sell(timezone.now() - timedelta(minutes=10 - n), signal_info={"pnl": pnl})


def test_equity_curve_is_cached_until_a_new_trade(django_assert_num_queries):
    sell(1, "100")
    first = equity_chart(initial=Decimal(1000))
    assert first["trades"] == 1 and '"equity": [1100.0]' in first["script"]
    with django_assert_num_queries(1):  # only the newest-id probe
        assert equity_chart(initial=Decimal(1000)) == first
    sell(2, "-40")
    again = equity_chart(initial=Decimal(1000))
    assert again["trades"] == 2 and '"equity": [1100.0, 1060.0]' in again["script"]
    assert again["script"].startswith('<script id="equity-data" type="application/json">')


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
    assert "No AI decision with a later price yet." not in page and "-10.00%" in page


def test_every_response_reports_the_server_time(client):
    response = client.get("/healthz")
    assert response["Server-Timing"].startswith("app;dur=")
    assert float(response["Server-Timing"].split("=")[1]) >= 0


def chart_of(client, url: str) -> dict:
    """The chart data as the page's script fetches it (from the cache or not: the same JSON)."""
    import html
    import json

    page = client.get(url).content.decode()
    data_url = html.unescape(page.split('data-src="')[1].split('"')[0])
    return json.loads(client.get(data_url).content)


def test_the_market_chart_is_computed_again_at_a_new_candle_or_trade(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 60, end=end - timedelta(minutes=1))
    url = "/market/?symbol=KRW-BTC&range=6h"
    with CaptureQueriesContext(connection) as miss:
        before = chart_of(client, url)
    assert before["points"] == 60 and before["trades"] == []
    with CaptureQueriesContext(connection) as hit:
        assert chart_of(client, url) == before

    def reads_bars(queries) -> bool:
        return any('"timestamp" >=' in q["sql"] for q in queries)

    assert reads_bars(miss) and not reads_bars(hit)

    one = Decimal(50_000_000)
    store_candles([CandleRow("KRW-BTC", "1m", end - timedelta(minutes=1), one, one, one, one, one, None)])
    assert chart_of(client, url)["points"] == 61
    helpers.buy(end - timedelta(minutes=5))
    assert [m["side"] for m in chart_of(client, url)["trades"]] == ["BUY"]


def test_the_history_symbol_choices_follow_new_trades(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    sell(1, "1")
    assert list(client.get("/history/").context["symbols"]) == ["KRW-BTC"]
    helpers.buy(None, symbol="KRW-ETH")
    assert list(client.get("/history/").context["symbols"]) == ["KRW-BTC", "KRW-ETH"]


def test_the_system_pages_records_are_rendered_once_and_anew_at_each_change(client):
    from core.models import JobRun, NotificationLog
    from core.scheduling import get_schedules
    from market.models import RegimeHistory

    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    AgentDecision.objects.create(symbol="KRW-BTC", decision="REJECTED", regime="BULL", reasoning="first look")

    def system() -> str:
        return client.get("/system/").content.decode()

    assert "first look" in system()
    with CaptureQueriesContext(connection) as hit:
        assert "first look" in system()
    assert not any('"reasoning"' in q["sql"] for q in hit)  # the decision rows were not read again

    AgentDecision.objects.create(symbol="KRW-ETH", decision="APPROVED", regime="BULL", reasoning="2nd look")
    assert "2nd look" in system()
    job = get_schedules()[0].name
    run = JobRun.objects.create(job=job, slot=timezone.now(), status="failure", message="upbit said 503")
    assert 'title="upbit said 503">failure' in system()
    JobRun.objects.filter(pk=run.pk).update(status="success", message="done")  # a row changed in place
    assert 'title="done">success' in system()
    NotificationLog.objects.create(ref="n1", event="risk", status="failed", title="Risk: halt", attempts=3)
    assert "Risk: halt" in system()
    RegimeHistory.objects.create(coin_symbol="KRW-XRP", regime="BEAR", diff_pct=Decimal("-4.25"))
    assert "-4.25%" in system()


def test_the_navigation_rendered_once_marks_each_page_and_speaks_each_language(client):
    import re

    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))

    def active(url: str, language: str = "en") -> list[str]:
        client.cookies["django_language"] = language
        nav = client.get(url).content.decode().split('<nav id="site-nav">')[1].split("</nav>")[0]
        return re.findall(r'class="active">([^<]+)<', nav)

    for _ in range(2):  # the second round from the cache
        assert active("/") == ["Overview"]
        assert active("/risk/") == ["Risk"]
        assert active("/history/") == ["History"]
        assert active("/risk/", "ko") == ["리스크"]
