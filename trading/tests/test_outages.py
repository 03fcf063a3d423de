"""Outages during a cycle: PostgreSQL unreachable, Redis flushed."""

from datetime import UTC, datetime

import django_rq
import pytest
from django.db import connection

from core.models import JobRun
from core.scheduling import run_scheduled

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def test_cycle_fails_cleanly_while_postgres_is_unreachable_and_works_when_it_is_back():
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there: connection refused
    try:
        with pytest.raises(Exception, match="(?i)connection|connect"):
            run_scheduled("bot_cycle", datetime.now(UTC).isoformat())
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

    [alert] = django_rq.get_queue("notifications").jobs
    assert alert.args[0] == "system" and alert.args[1]["title"] == "Job bot_cycle failed"
    assert "OperationalError" in alert.args[1]["detail"]

    summary = run_scheduled("bot_cycle", datetime.now(UTC).isoformat())
    assert JobRun.objects.get(job="bot_cycle").status == "success"
    assert summary == "SKIPPED 5"  # the five default symbols have no candles in this database
