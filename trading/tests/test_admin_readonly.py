"""Money history cannot be edited or deleted from the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from trading.models import Account, Position, Trade

pytestmark = pytest.mark.django_db


@pytest.mark.books_written_by_hand  # writes a balance and rows by hand to show them read-only
def test_trades_positions_and_balances_are_read_only(client):
    client.force_login(get_user_model().objects.create_superuser("boss", password="x-long-password-1"))
    trade = Trade.objects.create(
        symbol="KRW-BTC", side="BUY", price=1, quantity=1, status="FILLED", client_order_id="r1"
    )
    Position.objects.create(
        symbol="KRW-BTC", quantity=1, avg_price=1, regime="BULL", high_water_mark=1, opened_at=timezone.now()
    )
    Account.objects.create(name="paper", balance=10)
    assert client.get(f"/admin/trading/trade/{trade.pk}/change/").status_code == 200  # viewable
    assert client.post(f"/admin/trading/trade/{trade.pk}/change/", {"price": "999"}).status_code == 403
    assert client.post(f"/admin/trading/trade/{trade.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/trading/trade/add/").status_code == 403
    assert client.post("/admin/trading/account/1/change/", {"balance": "1e9"}).status_code == 403
    trade.refresh_from_db()
    assert trade.price == 1 and Account.objects.get().balance == 10
