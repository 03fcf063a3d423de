"""The Ask CoinPilot tool loop through the real anthropic SDK against the scripted fake server (SSE).

Multi-step tool use, a tool error handed back as an is_error result, the call limit, the time limit,
low credit and spend limits, no key, the shared daily budget, and the grounding of the answer.
"""

import json
import time

import pytest
from django.utils import timezone

from agents import costs, llm
from agents.guardrails import BLOCK_KEY
from agents.models import ChatMessage, ChatUsage, Conversation
from agents.tests.conftest import text
from coinpilot_site.ask import conversations, loop
from coinpilot_site.tests.test_ask_tools import NOW, SECRETS, seed
from tests.fakes.anthropic import Turn, text_turn, tool_turn, tool_use_block

Status = ChatMessage.Status


@pytest.fixture
def data(db, redis_conn):
    return seed(redis_conn)


def ask(question: str, history=(), now=NOW) -> tuple[loop.Answer, list[dict]]:
    events = []
    run = loop.answer(question, list(history), now)
    try:
        while True:
            events.append(next(run))
    except StopIteration as done:
        return done.value, events


def test_multi_step_tool_use_streams_an_answer_with_its_sources(fake, data):
    decision = data["rejected"]
    fake.script(
        tool_turn("get_trades", {"symbol": "KRW-ETH", "side": "BUY"}, text="Let me check."),
        tool_turn("get_ai_decisions", {"symbol": "ETH", "from": "2026-03-10"}),
        text_turn(
            "We did not buy ETH at 08:00 KST: the AI rejected it with confidence 75 at 4,950,000 KRW "
            "(lower highs for 12 hours). The later buy was at 09:00 KST."
        ),
    )
    answer, events = ask("Why didn't we buy ETH this morning?")
    assert answer.status == Status.OK and answer.unverified == []
    assert answer.text.startswith("Let me check.\n\nWe did not buy ETH at 08:00 KST")
    assert [c["name"] for c in answer.tool_calls] == ["get_trades", "get_ai_decisions"]
    assert [c["rows"] for c in answer.tool_calls] == [1, 1] and all(
        c["error"] == "" for c in answer.tool_calls
    )
    assert f'"id": {decision.pk}' in answer.tool_calls[1]["result"]  # the result is logged with the call
    kinds = [(e["type"], e.get("state")) for e in events]
    assert kinds.count(("tool", "started")) == 2 and kinds.count(("tool", "finished")) == 2
    assert not any("result" in e for e in events)  # the page gets the call, not the rows
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text
    assert f"/admin/agents/agentdecision/{decision.pk}/change/" in [s["url"] for s in answer.sources]
    assert (answer.input_tokens, answer.output_tokens) == (3 * 1200, 3 * 80)
    # the real SDK streamed every call; the third one carried both tool results back
    bodies = [r.body for r in fake.requests]
    assert all(b["stream"] is True and "tool_choice" not in b for b in bodies)
    assert {t["name"] for t in bodies[0]["tools"]} >= {"get_trades", "get_ai_decisions", "get_config"}
    assert "KST" in bodies[0]["system"] and "language of the question" in bodies[0]["system"]
    last = bodies[2]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    result = json.loads(last[4]["content"][0]["content"])
    assert result["rows"][0]["reasoning"] == "lower highs for 12 hours: a weak bounce"


def test_an_invented_number_is_marked_unverified(fake, data):
    fake.script(
        tool_turn("get_trades", {"symbol": "KRW-BTC", "side": "SELL"}),
        text_turn("BTC was sold at 04:00 KST by TAKE_PROFIT for a profit of 7,777,777원 (+3건)."),
    )
    answer, _ = ask("BTC 익절 결과는?")
    assert [u["text"] for u in answer.unverified] == ["7,777,777"]
    start, end = answer.unverified[0]["start"], answer.unverified[0]["end"]
    assert answer.text[start:end] == "7,777,777"


def test_a_tool_error_goes_back_to_the_model_as_an_error_result(fake, data):
    fake.script(
        tool_turn("get_trades", {"symbol": "BTC/USDT"}),
        text_turn("I could not read the trades."),
    )
    answer, events = ask("BTC trades?")
    assert answer.status == Status.OK and answer.text == "I could not read the trades."
    [call] = answer.tool_calls
    assert call["error"] == "invalid arguments: symbol must be a KRW market like KRW-BTC, not 'BTC/USDT'"
    [block] = fake.requests[1].body["messages"][2]["content"]
    assert block["is_error"] is True and block["content"] == call["error"]
    finished = [e for e in events if e.get("state") == "finished"]
    assert finished[0]["error"] == call["error"] and finished[0]["rows"] == 0


def test_the_call_limit_stops_the_loop_and_says_so(fake, data, settings):
    settings.ASK_MAX_TOOL_CALLS = 2
    fake.script(
        tool_turn("get_trades", {}),
        Turn([tool_use_block("get_positions", {}), tool_use_block("get_config", {})], stop_reason="tool_use"),
    )
    answer, _ = ask("Everything, please")
    assert answer.status == Status.CALL_LIMIT and len(answer.tool_calls) == 1 and len(fake.requests) == 2
    assert "more than 2 tool calls (ASK_MAX_TOOL_CALLS)" in answer.full_text


def test_the_time_limit_stops_a_hanging_model(fake, data, settings):
    settings.ASK_TIME_LIMIT_SECONDS = 0.8
    fake.script(tool_turn("get_positions", {}), "hang")
    started = time.monotonic()
    answer, _ = ask("Positions?")
    assert time.monotonic() - started < 3
    assert answer.status == Status.TIME_LIMIT and answer.tool_calls[0]["name"] == "get_positions"
    assert "longer than the 0.8 s limit" in answer.full_text and "time limit passed" in answer.error


def test_the_answer_length_limit_is_said(fake, data):
    fake.script(Turn([{"type": "text", "text": "The answer is cut"}], stop_reason="max_tokens"))
    answer, _ = ask("Long story?")
    assert answer.status == Status.TOKEN_LIMIT and "length limit" in answer.full_text


@pytest.mark.parametrize(("script", "kind"), [("low-credit", "low_credit"), ("spend-limit", "spend_limit")])
def test_low_credit_pauses_the_ai_for_everyone(fake, data, redis_conn, script, kind):
    fake.script(script)
    answer, _ = ask("Positions?")
    assert answer.status == Status.PAUSED and "paused" in answer.full_text
    assert text(redis_conn.get(BLOCK_KEY)) == kind
    again, _ = ask("And now?")
    assert again.status == Status.PAUSED and len(fake.requests) == 1  # refused without asking


def test_an_overloaded_model_is_an_error_not_a_block(fake, data, redis_conn):
    fake.script("529")
    answer, _ = ask("Positions?")
    assert answer.status == Status.ERROR and "overloaded" in answer.full_text
    assert redis_conn.get(BLOCK_KEY) is None


def test_without_a_key_the_assistant_is_off(db, settings):
    settings.ANTHROPIC_API_KEY = ""
    answer, events = ask("Hello?")
    assert answer.status == Status.OFF and events == []
    assert "no ANTHROPIC_API_KEY" in answer.full_text


def test_over_the_shared_daily_budget_no_question_is_sent(fake, db, settings, redis_conn):
    settings.AI_DAILY_BUDGET_USD = "0.01"
    ChatUsage.objects.create(input_tokens=20_000, output_tokens=0)  # 0.02 USD at 1 USD / MTok
    answer, _ = ask("Hello?", now=timezone.now())
    assert answer.status == Status.PAUSED and fake.requests == []
    assert text(redis_conn.get(BLOCK_KEY)) == "budget"


def test_chat_tokens_count_toward_the_day_and_survive_clearing(fake, data, django_user_model):
    user = django_user_model.objects.create_user("op")
    conversation = Conversation.objects.create(user=user)
    fake.script(text_turn("Hi."))
    answer, _ = ask("Hi?", now=timezone.now())
    before = costs.day_usage(timezone.now())
    conversations.save_answer(conversation, answer, 10)
    after = costs.day_usage(timezone.now())
    assert after["input_tokens"] - before["input_tokens"] == 1200
    assert after["output_tokens"] - before["output_tokens"] == 80
    conversations.clear(user)
    assert costs.day_usage(timezone.now())["input_tokens"] == after["input_tokens"]


def test_history_goes_to_the_model_as_alternating_turns(fake, data, django_user_model):
    conversation = Conversation.objects.create(user=django_user_model.objects.create_user("op"))
    conversations.save_question(conversation, "First?")
    conversations.save_answer(conversation, loop.Answer(text="First answer."), 5)
    conversations.save_question(conversation, "Unanswered?")  # e.g. the browser went away
    fake.script(text_turn("Second answer."))
    history = conversations.history(conversation)
    ask("Second?", history)
    roles = [m["role"] for m in fake.requests[0].body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]


def test_no_secret_reaches_the_model(fake, data, settings):
    for name, value in SECRETS.items():
        if name != "ANTHROPIC_API_KEY":  # the key goes in the header, as it must
            setattr(settings, name, value)
    fake.script(
        tool_turn("get_config", {}),
        tool_turn("get_bot_status", {}),
        tool_turn("get_positions", {}),
        text_turn("Done."),
    )
    ask("Show me the config and the status")
    bodies = json.dumps([r.body for r in fake.requests])
    assert "SECRET" not in bodies and len(fake.requests) == 4


def test_the_bounds_are_settings_documented_in_env_example():
    from conftest import ROOT

    example = (ROOT / ".env.example").read_text()
    for name in ("ASK_MAX_TOOL_CALLS", "ASK_TIME_LIMIT_SECONDS", "ASK_MAX_TOKENS", "ASK_TOOL_ROW_LIMIT"):
        assert f"\n{name}=" in example


def test_the_time_limit_also_stops_a_slow_stream(fake, data, settings):
    import anthropic  # noqa: F401  (imported before the clock starts: a first import takes seconds)

    settings.ASK_TIME_LIMIT_SECONDS = 1
    fake.stream_delay = 0.2  # 26 events: the whole stream would take 5.2 s
    fake.script(text_turn("A long and slow answer. " * 10))
    started = time.monotonic()
    answer, events = ask("Tell me everything")
    assert time.monotonic() - started < 4  # cut at the limit, with room for a machine busy with other work
    assert answer.status == Status.TIME_LIMIT and 0 < len(events) < 20
    assert answer.text.startswith("A long and") and answer.full_text.endswith("may be incomplete.")


def test_the_sdk_import_is_not_counted_in_the_time_limit(fake, data, settings, monkeypatch):
    """A fresh web process's first question imports the SDK (1.6 s here, more on a slow machine):
    that import happens before the clock starts, so it cannot eat a short limit."""
    load = llm.load_anthropic

    def slow_first_import():
        time.sleep(2.5)  # what the first import costs a fresh process on a slow machine
        load()

    monkeypatch.setattr(llm, "load_anthropic", slow_first_import)
    settings.ASK_TIME_LIMIT_SECONDS = 2  # the answer itself takes milliseconds: room for a busy machine
    fake.script(text_turn("Two open positions."))
    answer, _ = ask("Positions?")
    assert answer.status == Status.OK and answer.text == "Two open positions."


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([{"role": "assistant", "content": "hi"}], "roles must alternate, starting with user"),
        (
            [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}],
                },
                {"role": "user", "content": "no result"},
            ],
            "every tool_use needs its tool_result",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}],
                }
            ],
            "each tool_result must answer a tool_use",
        ),
    ],
)
def test_the_fake_refuses_what_the_real_api_refuses(fake, messages, problem):
    from agents import llm

    with pytest.raises(llm.LLMError, match=problem) as refused:
        list(
            llm.stream_turn(
                system="s",
                messages=messages,
                tools=[],
                deadline=time.monotonic() + 5,
                max_tokens=10,
                spent=llm.Usage(),
            )
        )
    assert refused.value.kind == llm.API
