"""Start-up cost: what takes seconds to import is imported where it is used, and by each RQ worker
as it starts (settings.RQ_WORKER_PRELOAD), never again by each job's work horse."""

import json
import subprocess
import sys

import django_rq
import pytest
from django.conf import settings

from conftest import ROOT
from core import worker

PROBE = """
import json, sys
import django
django.setup()
at_setup = [name for name in sys.argv[1:] if name in sys.modules]
from django.urls import resolve
resolve("/")
print(json.dumps({"setup": at_setup, "urls": [name for name in sys.argv[1:] if name in sys.modules]}))
"""


def test_a_process_starts_without_the_modules_workers_preload(subprocess_env):
    # and without scipy's statistics, which only a finished Lab study's report uses
    names = [*settings.RQ_WORKER_PRELOAD, "scipy.stats", "scipy.special"]
    env = subprocess_env | {"DJANGO_SETTINGS_MODULE": "coinpilot_site.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *names], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["setup"] == []  # a scheduler, a worker or a command: none of them at start
    assert [name for name in loaded["urls"] if name != "lab.study"] == []  # web: only the Lab's pages


def test_preload_imports_each_listed_module(settings, monkeypatch):
    settings.RQ_WORKER_PRELOAD = ("json", "colorsys")
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    worker.preload()
    first = sys.modules["colorsys"]
    worker.preload()  # the next fork: nothing is imported again
    assert sys.modules["colorsys"] is first


def test_a_worker_of_alert_delivery_only_skips_the_preload(settings, monkeypatch):
    settings.RQ_WORKER_PRELOAD = ("colorsys",)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    worker.preload(["notifications"])
    assert "colorsys" not in sys.modules
    worker.preload(["notifications", "default"])  # a worker that also serves other queues preloads
    assert "colorsys" in sys.modules


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_a_real_workers_horse_starts_with_the_preloaded_modules(spawn):
    names = list(settings.RQ_WORKER_PRELOAD)
    job = django_rq.get_queue("default").enqueue("core.tests.sample_jobs.already_imported", names)
    worker = spawn("rqworker", "default", "--burst")
    assert worker.wait(timeout=120) == 0
    job.refresh()
    assert job.return_value() == names
