"""The API docs page renders in a real browser under the site's Content-Security-Policy, from
CoinPilot's own static files (Debian's headless Chromium, as tests/browser does)."""

import os

import pytest

from tests.browser.conftest import ARGS, CHROMIUM, LOGIN_BUTTON

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the live server's thread reads the database
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian's chromium is not installed"
    ),
]


@pytest.fixture(autouse=True)
def allow_orm_next_to_playwrights_event_loop(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_the_docs_page_lists_every_operation_without_a_csp_violation(live_server, ops):
    from playwright.sync_api import sync_playwright

    problems, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page()
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
        tab.goto(f"{live_server.url}/login/?next=/api/v1/docs")
        tab.fill("#id_username", "ops")
        tab.fill("#id_password", "pw-123456789-long")
        tab.click(LOGIN_BUTTON)
        tab.wait_for_selector(".opblock-summary-path", timeout=15000)
        paths = tab.locator(".opblock-summary-path").all_inner_texts()
        browser.close()
    assert len(paths) == 12 and "/api/v1/control/kill-switch" in " ".join(paths)
    assert [text for text in problems if "Content Security Policy" in text or "Refused" in text] == []
    assert outside == [] or all(url.startswith("data:") for url in outside)  # no CDN
