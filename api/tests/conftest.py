"""Users, tokens and a held position for the token API's tests."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from api import tokens
from market.models import Candle
from trading import booking
from trading.fills import buy_fill


@pytest.fixture
def ops(db):
    """An operator who may change trading controls (the admin's permission), not a superuser."""
    user = get_user_model().objects.create_user("ops", password="pw-123456789-long")
    user.user_permissions.add(Permission.objects.get(codename="change_tradingcontrol"))
    return get_user_model().objects.get(pk=user.pk)  # a fresh instance: no permission cache


@pytest.fixture
def control_token(ops) -> str:
    return tokens.create_token(user=ops, name="phone", scope="control")[1]


@pytest.fixture
def read_token(ops) -> str:
    return tokens.create_token(user=ops, name="grafana", scope="read")[1]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def held_btc(db):
    """An open KRW-BTC position bought an hour ago and a stored close to sell it at."""
    now = timezone.now().replace(second=0, microsecond=0)
    Candle.objects.create(
        symbol="KRW-BTC",
        timestamp=now - timedelta(minutes=1),
        open=100_000_000,
        high=101_000_000,
        low=99_000_000,
        close=100_500_000,
        volume=1,
    )
    fill = buy_fill(krw=Decimal("500000"), reference=Decimal("100000000"))
    booking.book_buy(
        symbol="KRW-BTC", fill=fill, client_order_id="held-BUY", regime="BULL", at=now - timedelta(hours=1)
    )
