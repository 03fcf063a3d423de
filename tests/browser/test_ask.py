"""Ask CoinPilot in a real browser: log in, ask, watch the streamed answer, its sources and the marker
on an invented number. The model is the scripted fake Anthropic server, reached by the real SDK."""

import pytest

from coinpilot_site.tests.test_ask_tools import seed
from tests.fakes.anthropic import text_turn, tool_turn

from .conftest import shoot


@pytest.fixture
def fake(fake_anthropic):
    return fake_anthropic


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
    assert "get_ai_decisions (1 row)" in answer.locator(".ask-tools").first.inner_text()
    shoot(page, "ask")
    page.reload()  # the conversation is kept
    assert "confidence 75" in page.locator(".ask-assistant").last.inner_text()
    page.click("#ask-clear button")
    page.wait_for_url("**/ask/")
    assert page.locator(".ask-msg").count() == 0
