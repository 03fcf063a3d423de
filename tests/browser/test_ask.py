"""Ask CoinPilot in a real browser: log in, ask, watch the streamed answer, its sources and the marker
on an invented number. The model is the scripted fake Anthropic server, reached by the real SDK."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from agents.tests.test_ask_tools import seed
from tests.fakes.anthropic import FakeAnthropic, configure, text_turn, tool_turn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def allow_orm_next_to_playwrights_event_loop():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def fake(settings):
    with FakeAnthropic() as server:
        configure(settings, server)
        yield server


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser("browser", password="browser-pass-123")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{live_server.url}/login/")
        tab.fill("#id_username", "browser")
        tab.fill("#id_password", "browser-pass-123")
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{live_server.url}/")
        tab.base = live_server.url
        yield tab
        browser.close()


def shoot(tab, name: str) -> None:
    folder = os.environ.get("COINPILOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_ask_streams_an_answer_with_sources_and_an_unverified_marker(page, fake, redis_conn):
    decision = seed(redis_conn)["rejected"]
    fake.script(
        tool_turn("get_ai_decisions", {"symbol": "KRW-ETH"}, text="Checking the AI decisions."),
        text_turn(
            "We did not buy ETH at 08:00 KST: the AI rejected it with confidence 75 "
            "(lower highs for 12 hours). It would have cost 8,888,888 KRW."
        ),
    )
    page.click("nav >> text=Ask")
    page.wait_for_url("**/ask/")
    page.fill("#ask-question", "Why didn't we buy ETH this morning?")
    page.click("#ask-send")
    answer = page.locator(".ask-assistant").last
    answer.locator(".ask-sources a").first.wait_for()
    assert "the AI rejected it with confidence 75" in answer.inner_text()
    marks = answer.locator("mark.unverified")
    assert marks.count() == 1 and marks.first.inner_text().startswith("8,888,888")
    hrefs = answer.locator(".ask-sources a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert f"/admin/agents/agentdecision/{decision.pk}/change/" in hrefs
    assert "get_ai_decisions (1 rows)" in answer.locator(".ask-tools").first.inner_text()
    shoot(page, "ask")
    page.reload()  # the conversation is kept
    assert "confidence 75" in page.locator(".ask-assistant").last.inner_text()
    page.click("#ask-clear button")
    page.wait_for_url("**/ask/")
    assert page.locator(".ask-msg").count() == 0
