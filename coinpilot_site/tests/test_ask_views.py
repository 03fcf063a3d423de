"""The Ask CoinPilot page and its endpoints: login, CSRF, the NDJSON stream, per-user isolation, clear."""

import json

import pytest
from django.test import Client

from agents.models import ChatMessage, ChatUsage, Conversation
from coinpilot_site.ask import conversations, views
from coinpilot_site.tests.test_ask_tools import seed
from tests.fakes.anthropic import text_turn, tool_turn


@pytest.fixture
def operator(db, django_user_model):
    return django_user_model.objects.create_user("operator", password="pw-operator-1", is_staff=True)


@pytest.fixture
def client_for():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def events(response) -> list[dict]:
    assert response["Content-Type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_the_page_and_the_endpoints_need_a_login(db):
    client = Client()
    for response in (
        client.get("/ask/"),
        client.post("/ask/question", {"question": "hi"}),
        client.post("/ask/clear"),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert ChatMessage.objects.count() == 0


def test_without_a_key_the_page_says_the_assistant_is_off(operator, client_for):
    page = client_for(operator).get("/ask/")
    assert page.status_code == 200
    assert b"The assistant is off: no ANTHROPIC_API_KEY is set." in page.content
    assert b'id="ask-data"' in page.content and b'href="/ask/"' in page.content  # nav link


def test_a_question_streams_its_answer_sources_and_unverified_numbers(fake, operator, client_for, redis_conn):
    seed(redis_conn)
    fake.script(
        tool_turn("get_trades", {"symbol": "KRW-BTC", "side": "SELL"}),
        text_turn("BTC closed by TAKE_PROFIT; we also made 9,999,999 KRW elsewhere."),
    )
    response = client_for(operator).post("/ask/question", {"question": "How did BTC do?"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-cache"
    lines = events(response)
    assert [e["type"] for e in lines if e["type"] != "delta"] == ["tool", "tool", "done"]
    assert "".join(e["text"] for e in lines if e["type"] == "delta").startswith("BTC closed")
    done = lines[-1]["message"]
    assert [u["text"] for u in done["unverified"]] == ["9,999,999"]
    assert any(s["url"].startswith("/admin/trading/trade/") for s in done["sources"])
    assert {"label": "History", "url": "/history/?symbol=KRW-BTC&side=SELL", "admin": False} in done[
        "sources"
    ]
    question, answer = ChatMessage.objects.order_by("pk")
    assert (question.role, question.text) == ("user", "How did BTC do?")
    assert answer.status == "ok" and answer.tool_calls[0]["name"] == "get_trades"
    assert answer.tool_calls[0]["rows"] == 1 and answer.input_tokens == 2400
    assert answer.conversation.user == operator


def test_non_staff_operators_get_no_admin_links(fake, db, django_user_model, client_for, redis_conn):
    seed(redis_conn)
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1")
    fake.script(tool_turn("get_trades", {"symbol": "KRW-BTC"}), text_turn("Two BTC trades."))
    done = events(client_for(viewer).post("/ask/question", {"question": "BTC?"}))[-1]["message"]
    assert done["sources"] and not [s for s in done["sources"] if s["admin"]]


def test_a_refused_question_is_stored_with_the_reason(fake, operator, client_for, settings):
    settings.ANTHROPIC_API_KEY = ""
    lines = events(client_for(operator).post("/ask/question", {"question": "hi"}))
    assert [e["type"] for e in lines] == ["error", "done"] and lines[0]["status"] == "off"
    assert ChatMessage.objects.get(role="assistant").status == "off"


def test_csrf_is_enforced(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post("/ask/question", {"question": "hi"}).status_code == 403
    assert client.post("/ask/clear").status_code == 403
    page = client.get("/ask/")
    token = page.cookies["csrftoken"].value
    response = client.post("/ask/question", {"question": "hi"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and events(response)[-1]["type"] == "done"


def test_bad_questions_and_methods_are_refused(operator, client_for):
    client = client_for(operator)
    assert client.post("/ask/question", {"question": "  "}).status_code == 400
    assert client.post("/ask/question", {"question": "x" * 2001}).status_code == 400
    assert client.get("/ask/question").status_code == 405
    assert client.get("/ask/clear").status_code == 405


def test_conversations_are_per_user_and_clearing_deletes_only_ones_own(
    fake, operator, db, django_user_model, client_for
):
    other = django_user_model.objects.create_user("other", password="pw-other-1")
    mine, theirs = client_for(operator), client_for(other)
    fake.script(text_turn("Answer for the operator."), text_turn("Answer for the other."))
    events(mine.post("/ask/question", {"question": "operator question"}))
    events(theirs.post("/ask/question", {"question": "other question"}))
    page = mine.get("/ask/").context["data"]
    assert [m["text"] for m in page["messages"]] == ["operator question", "Answer for the operator."]
    assert mine.post("/ask/clear")["Location"] == "/ask/"
    assert mine.get("/ask/").context["data"]["messages"] == []
    assert ChatMessage.objects.filter(conversation__user=other).count() == 2
    assert Conversation.objects.count() == 2


def test_closing_the_page_mid_answer_keeps_what_was_said_and_spent(fake, operator, redis_conn):
    seed(redis_conn)
    fake.script(
        tool_turn("get_trades", {"symbol": "KRW-BTC"}, text="Looking at the trades."),
        text_turn("BTC was sold twice."),
    )
    conversation = conversations.conversation_of(operator)
    stream = views._answer_events(conversation, "How did BTC do?", [], staff=True)  # the view's body
    seen = [json.loads(next(stream))]
    while seen[-1]["type"] != "tool":  # the first turn (and its tokens) is done
        seen.append(json.loads(next(stream)))
    stream.close()  # what the WSGI server does when the browser goes away
    stored = ChatMessage.objects.get(role="assistant")
    assert stored.status == "interrupted" and stored.text.startswith("Looking at the trades.")
    assert "Interrupted: the page was closed" in stored.text
    assert stored.input_tokens > 0 and ChatUsage.objects.get().input_tokens == stored.input_tokens


def test_the_admin_shows_the_log_with_tool_results_read_only(fake, db, django_user_model, redis_conn):
    seed(redis_conn)
    boss = django_user_model.objects.create_superuser("boss", password="pw-boss-12345")
    client = Client()
    client.force_login(boss)
    fake.script(tool_turn("get_trades", {"symbol": "KRW-BTC"}), text_turn("Two BTC trades."))
    events(client.post("/ask/question", {"question": "BTC?"}))
    answer = ChatMessage.objects.get(role="assistant")
    assert '"symbol": "KRW-BTC"' in answer.tool_calls[0]["result"]
    assert client.get("/admin/agents/chatmessage/").status_code == 200
    page = client.get(f"/admin/agents/chatmessage/{answer.pk}/change/").content.decode()
    assert "get_trades" in page and "Two BTC trades." in page and 'name="_save"' not in page
