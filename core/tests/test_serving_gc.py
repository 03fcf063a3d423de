"""A gunicorn web worker freezes what it made as it started (core.worker.freeze_start_up_objects),
so a full garbage collection walks only what its requests made."""

import gc
import json
import subprocess
import sys
import weakref

from conftest import ROOT
from core import worker

PROBE = """
import gc, json, runpy, sys
import django
django.setup()
before = gc.get_freeze_count()
conf = runpy.run_path("gunicorn.conf.py")
conf["post_worker_init"](None)
print(json.dumps({
    "before": before,
    "frozen": gc.get_freeze_count(),
    "urlconf": "coinpilot_site.urls" in sys.modules,
}))
"""


def test_a_web_worker_freezes_its_start_up_objects_after_importing_every_view(subprocess_env):
    env = subprocess_env | {"DJANGO_SETTINGS_MODULE": "coinpilot_site.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["before"] == 0
    assert state["frozen"] > 100_000  # Django, the apps, scipy.signal and every page's view
    assert state["urlconf"]


def test_a_frozen_process_still_collects_new_cycles():
    try:
        worker.freeze_start_up_objects()

        class Node:
            pass

        node = Node()
        node.self = node
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: its reference count alone never frees it
        gc.collect()
        assert alive() is None  # made after the freeze, so the collector still finds and frees it
    finally:
        gc.unfreeze()
