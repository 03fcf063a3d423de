import pytest

from lab import storage


@pytest.fixture(autouse=True)
def close_optuna_connections():
    """Optuna's engine holds its own connections: closed after each test, so the test database
    can be dropped at the end."""
    yield
    storage.forget_storages()
