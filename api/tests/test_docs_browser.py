"""The API docs page renders in a real browser under the site's Content-Security-Policy, from
CoinPilot's own static files (Debian's headless Chromium, as tests/browser does)."""

import os

import pytest

from tests.browser.conftest import CHROMIUM, LOGIN_BUTTON, chromium

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the live server's thread reads the database
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian's chromium is not installed"
    ),
]


def test_the_docs_page_lists_every_operation_without_a_csp_violation(live_server, ops):
    problems, outside = [], []
    with chromium() as browser:
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
    assert len(paths) == 12 and "/api/v1/control/kill-switch" in " ".join(paths)
    assert [text for text in problems if "Content Security Policy" in text or "Refused" in text] == []
    assert outside == [] or all(url.startswith("data:") for url in outside)  # no CDN
