"""The browser tests' own harness: what `chromium()` promises beside the database."""

import pytest
from django.contrib.auth import get_user_model

from tests.sessions import other_sessions
from tests.waiting import wait_for

from .conftest import chromium


@pytest.mark.real_services  # counts PostgreSQL sessions
def test_queries_beside_playwright_leave_no_connection_open():
    assert get_user_model().objects.count() == 0  # this thread's own connection is open
    with chromium():
        # while Playwright's loop runs, the ORM opens another connection for this thread
        assert other_sessions() == 1
    wait_for(lambda: other_sessions() == 0, 10, "the connection opened beside Playwright to close")
