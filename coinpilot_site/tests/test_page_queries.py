"""Every page and JSON endpoint answers within a small, fixed number of SQL queries."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trading.models import Position, RiskAudit, Trade

pytestmark = pytest.mark.django_db
MAX_QUERIES = 16  # 15 + the kill switch banner's lookup that every page makes (base.html)
PAGES = [
    "/",
    "/api/overview",
    "/market/?range=7d",
    "/risk/",
    "/exits/",
    "/history/",
    "/history.csv",
    "/system/",
    "/backtest/",
    "/ask/",
]


@pytest.mark.parametrize("url", PAGES)
def test_page_query_count_is_bounded_and_does_not_grow_with_rows(client, url):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
        assert response.status_code == 200
        return len(queries)

    few = count()
    now = timezone.now()
    Trade.objects.bulk_create(
        [
            Trade(
                symbol=f"KRW-S{i % 7}",
                side="SELL",
                price=1,
                quantity=1,
                status="FILLED",
                client_order_id=f"q{i}",
                executed_at=now,
                signal_info={"pnl": "1"},
            )
            for i in range(300)
        ]
    )
    Position.objects.bulk_create(
        [
            Position(
                symbol=f"KRW-P{i}", quantity=1, avg_price=1, regime="BULL", high_water_mark=1, opened_at=now
            )
            for i in range(3)
        ]
    )
    RiskAudit.objects.bulk_create(
        [RiskAudit(violation_type="MAX_POSITIONS", description="x") for _ in range(80)]
    )
    many = count()
    assert many <= MAX_QUERIES, f"{url}: {many} queries"
    assert many <= few + 2, f"{url}: {few} queries with no data, {many} with data (a per-row query?)"
