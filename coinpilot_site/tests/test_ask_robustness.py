"""Ask CoinPilot outside the happy path: NUL characters (which PostgreSQL text and jsonb refuse) in
the question, a tool argument or the answer; tokens stored whatever happens to the message; one
deadline for the whole answer, also while a tool call streams in slowly."""

import json
import time
from unittest import mock

import pytest
from django.db import DataError
from django.test import Client

from agents.models import ChatMessage, ChatUsage
from coinpilot_site.ask import conversations, loop
from coinpilot_site.tests.test_ask_tools import NOW, seed
from tests.fakes.anthropic import text_turn, tool_turn

Status = ChatMessage.Status


@pytest.fixture
def operator_client(db, django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_user("operator", password="pw-operator-1"))
    return client


def events(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_a_question_with_a_nul_is_refused_with_a_clear_message(fake, operator_client):
    response = operator_client.post("/ask/question", {"question": "why\x00 no buy?"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "The question contains a NUL character (\\0); remove it and ask again."
    }
    assert ChatMessage.objects.count() == 0 and fake.requests == []


def test_nul_in_a_tool_argument_and_in_the_answer_is_dropped_and_everything_is_stored(
    fake, operator_client, redis_conn
):
    seed(redis_conn)
    fake.script(
        tool_turn("get_trades", {"symbol": "KRW-\x00BTC", "side": "SELL"}),
        text_turn("BTC\x00 closed by TAKE_PROFIT."),
    )
    lines = events(operator_client.post("/ask/question", {"question": "How did BTC do?"}))
    assert lines[-1]["type"] == "done" and lines[-1]["message"]["status"] == "ok"
    assert "\x00" not in json.dumps([e for e in lines if e["type"] != "done"], ensure_ascii=False)
    answer = ChatMessage.objects.get(role="assistant")
    assert answer.text == "BTC closed by TAKE_PROFIT."
    assert answer.tool_calls[0]["args"] == {"symbol": "KRW-BTC", "side": "SELL"}
    assert answer.tool_calls[0]["rows"] == 1 and answer.tool_calls[0]["error"] == ""  # the tool ran
    assert ChatUsage.objects.get().input_tokens == 2400


def test_an_answer_full_of_nul_is_stored_without_them(db, django_user_model):
    conversation = conversations.conversation_of(
        django_user_model.objects.create_user("u1", password="pw-u1-123")
    )
    answer = loop.Answer(
        text="a\x00b",
        error="boom\x00",
        notice="stopped\x00",
        status=Status.ERROR,
        tool_calls=[
            {"name": "get_trades", "args": {"sym\x00": ["x\x00"]}, "rows": 0, "error": "e\x00", "ms": 1}
        ],
        sources=[{"label": "L\x00", "url": "/x", "admin": False}],
        input_tokens=10,
        output_tokens=5,
    )
    row = conversations.save_answer(conversation, answer, 12)
    row.refresh_from_db()
    assert (row.text, row.error) == ("ab\n\nstopped", "boom")
    assert row.tool_calls[0]["args"] == {"sym": ["x"]} and row.sources[0]["label"] == "L"
    assert (row.input_tokens, row.output_tokens) == (10, 5)


def test_tokens_are_stored_even_when_the_message_cannot_be(fake, operator_client, redis_conn):
    seed(redis_conn)
    fake.script(text_turn("Fine."))
    create = ChatMessage.objects.create

    def refuse_answers(**fields):
        if fields["role"] == ChatMessage.Role.ASSISTANT:
            raise DataError("cannot store this answer")
        return create(**fields)

    with mock.patch.object(ChatMessage.objects, "create", side_effect=refuse_answers):
        response = operator_client.post("/ask/question", {"question": "Status?"})
        with pytest.raises(DataError):
            events(response)
    usage = ChatUsage.objects.get()  # once: the failed save is not retried as "interrupted"
    assert (usage.input_tokens, usage.output_tokens) == (1200, 80)


def test_the_time_limit_holds_while_a_tool_call_streams_slowly(fake, db, redis_conn, settings):
    """A tool call's input comes as input_json deltas, which are no text: the deadline must hold
    on every read, not only when text arrives (a slow tool-call stream ran 11.1 s on a 6 s limit)."""
    seed(redis_conn)
    settings.ASK_TIME_LIMIT_SECONDS = 1.0
    fake.stream_delay = 0.5  # 9 events: the tool call alone would take 4.5 s
    fake.script(tool_turn("get_trades", {"symbol": "KRW-BTC", "side": "SELL", "limit": 5}))
    started = time.monotonic()
    run = loop.answer("How did BTC do?", [], NOW)
    try:
        while True:
            next(run)
    except StopIteration as done:
        answer = done.value
    assert time.monotonic() - started < 2.5  # the limit plus a generous margin, well under 4.5 s
    assert answer.status == Status.TIME_LIMIT and answer.tool_calls == []
    assert answer.input_tokens == 1200  # the cut-short call's input tokens still count
