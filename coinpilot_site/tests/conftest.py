import pytest


@pytest.fixture
def fake(fake_anthropic):
    """The Ask tests' name for the fake Anthropic server (root conftest.py)."""
    return fake_anthropic
