"""Operator commands used by health checks."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rq import Worker

from core.scheduling import HEARTBEAT_KEY


def test_check_worker_passes_for_a_live_worker(redis_conn, capsys):
    worker = Worker(["bot"], connection=redis_conn, name="bot")
    worker.register_birth()
    worker.heartbeat()
    call_command("check_worker", "bot")
    assert "worker bot" in capsys.readouterr().out


def test_check_worker_fails_for_an_unknown_worker():
    with pytest.raises(CommandError, match="worker 'bot' is not registered"):
        call_command("check_worker", "bot")


def test_check_scheduler_follows_the_heartbeat(redis_conn):
    with pytest.raises(CommandError, match="scheduler not alive"):
        call_command("check_scheduler")
    redis_conn.set(HEARTBEAT_KEY, json.dumps({"at": timezone.now().isoformat(), "pid": 1, "host": "h"}))
    call_command("check_scheduler")
