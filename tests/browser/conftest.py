"""What every browser test shares: Debian's headless Chromium driven by Playwright, a logged-in
tab on the live server, screenshots to $COINPILOT_SCREENSHOTS when it is set."""

import os
import shutil
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HERE = Path(__file__).parent
LOGIN_BUTTON = "#login-form button[type=submit]"  # not the language menu's buttons beside it
# How long a wait may take before it fails (Playwright's default is 30 s): CI runs both suites side by
# side on 2 cores, and a page has taken longer than 30 s to go network-idle there. Only a failing
# test waits this long.
WAIT_MS = 90_000


def pytest_collection_modifyitems(items) -> None:
    missing = not os.path.exists(CHROMIUM) and not os.environ.get("CI")
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.django_db(transaction=True))  # the live server's thread reads
            if missing:
                item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed (.ci/run does)"))


@contextmanager
def chromium() -> Iterator:
    """Debian's headless Chromium under Playwright's sync API (a Browser), with the ORM allowed
    beside Playwright's event loop (the test's own queries run while that loop runs).

    While the loop runs in this thread, Django keeps the ORM's connections apart from the
    thread's own (asgiref's Local switches to context storage), and pytest-django never closes
    those: they are closed here, or the test database could not be dropped at the end."""
    from playwright.sync_api import sync_playwright

    with patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            connections.close_all()
            browser.close()


@pytest.fixture
def page(live_server):
    """A Chromium tab logged in as a superuser; `page.base` is the live server's URL."""
    get_user_model().objects.create_superuser("browser", password="browser-pass-123")
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(WAIT_MS)
        tab.goto(f"{live_server.url}/login/")
        tab.fill("#id_username", "browser")
        tab.fill("#id_password", "browser-pass-123")
        tab.click(LOGIN_BUTTON)
        tab.wait_for_url(f"{live_server.url}/")
        tab.base = live_server.url
        yield tab


def other_threads() -> str:
    """Where every thread but this one stands (the live server's busy request threads among them),
    leaving out the server's threads that wait for a browser's next request: what a test prints when
    a page never finishes loading."""
    me = threading.get_ident()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    stacks = {ident: "".join(traceback.format_stack(frame)) for ident, frame in sys._current_frames().items()}
    return "\n".join(
        f"--- {names.get(ident, ident)}\n{stack}"
        for ident, stack in stacks.items()
        if ident != me and "self.raw_requestline = self.rfile.readline" not in stack
    )


def shoot(tab, name: str) -> None:
    folder = os.environ.get("COINPILOT_SCREENSHOTS")
    if folder:
        path = Path(folder) / f"{name}.png"  # a name may hold a sub-folder ("ko/overview")
        path.parent.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(path), full_page=True)
