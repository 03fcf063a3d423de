"""The data model as the databases see it: composite candle key, hypertable migration, money types."""

import importlib
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from market.models import Candle
from trading.models import RiskConfig, StrategyConfig

hypertable_migration = importlib.import_module("market.migrations.0002_candle_hypertable")

pytestmark = pytest.mark.django_db


def test_candle_primary_key_is_symbol_interval_timestamp():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "market_data")
    [primary] = [c for c in constraints.values() if c["primary_key"]]
    assert primary["columns"] == ["symbol", "interval", "timestamp"]


def test_a_candle_is_stored_once_per_symbol_interval_and_minute():
    bar = {
        "symbol": "KRW-BTC",
        "interval": "1m",
        "timestamp": timezone.now().replace(second=0, microsecond=0),
        "open": Decimal("1"),
        "high": Decimal("2"),
        "low": Decimal("1"),
        "close": Decimal("2"),
        "volume": Decimal("0.5"),
    }
    Candle.objects.create(**bar)
    with pytest.raises(IntegrityError):
        Candle.objects.create(**bar)


@pytest.mark.real_services
def test_hypertable_migration_keeps_a_plain_table_without_timescale():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        if cursor.fetchone() is not None:
            cursor.execute(
                "SELECT count(*) FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'market_data'"
            )
            assert cursor.fetchone()[0] == 1
        else:
            editor = mock.Mock(connection=connection)
            hypertable_migration.make_hypertable(None, editor)
            editor.execute.assert_not_called()


def test_hypertable_migration_creates_it_when_timescale_is_available():
    editor = mock.Mock()
    with mock.patch.object(hypertable_migration, "timescale_available", return_value=True):
        hypertable_migration.make_hypertable(None, editor)
    statements = [call.args[0] for call in editor.execute.call_args_list]
    assert statements[0] == "CREATE EXTENSION IF NOT EXISTS timescaledb"
    assert "create_hypertable('market_data', by_range('timestamp'" in statements[1]


def test_sqlite_never_asks_for_timescale():
    editor = mock.Mock()
    editor.connection.vendor = "sqlite"
    assert hypertable_migration.timescale_available(editor) is False


@pytest.mark.parametrize("model", [StrategyConfig, RiskConfig])
def test_only_one_config_version_can_be_active(model):
    model.objects.update(is_active=False)
    top = max(model.objects.values_list("version", flat=True), default=0)
    model.objects.create(version=top + 1, is_active=True)
    with pytest.raises(IntegrityError):
        model.objects.create(version=top + 2, is_active=True)
