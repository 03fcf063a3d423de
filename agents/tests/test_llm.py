"""agents/llm.py: error classification, and the OpenAI summary against a local fake."""

import json

import anthropic
import httpx2
import pytest

from agents import llm
from tests.fakes.openai import API_KEY, TEXT, FakeOpenAI


def status_error(status: int, body: dict) -> anthropic.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(status, json=body, request=request)
    client = anthropic.Anthropic(api_key="x", base_url="http://127.0.0.1")
    return client._make_status_error(json.dumps(body), body=body, response=response)


def error_body(kind: str, message: str, code: str | None = None) -> dict:
    error = {"type": kind, "message": message} | ({"details": {"error_code": code}} if code else {})
    return {"type": "error", "error": error}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            error_body("invalid_request_error", "Your credit balance is too low to access"),
            llm.LOW_CREDIT,
        ),
        (400, error_body("invalid_request_error", "messages: Field required"), llm.API),
        (402, error_body("billing_error", "payment required"), llm.LOW_CREDIT),
        (429, error_body("rate_limit_error", "limit", "enforced_spend_limit_reached"), llm.SPEND_LIMIT),
        (429, error_body("rate_limit_error", "slow down"), llm.RATE_LIMIT),
        (529, error_body("overloaded_error", "Overloaded"), llm.OVERLOADED),
        (500, error_body("api_error", "boom"), llm.API),
    ],
)
def test_classify_status_errors(status, body, kind):
    assert llm.classify_anthropic(status_error(status, body)).kind == kind


def test_classify_timeout_and_connection():
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    assert llm.classify_anthropic(anthropic.APITimeoutError(request)).kind == llm.TIMEOUT
    assert llm.classify_anthropic(anthropic.APIConnectionError(request=request)).kind == llm.CONNECTION


@pytest.fixture
def openai_fake(settings):
    with FakeOpenAI() as server:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = API_KEY, server.url
        yield server


def test_summarize_returns_the_models_text(openai_fake, settings):
    assert llm.summarize("facts", instructions="three lines") == TEXT.strip()
    assert openai_fake.requests[0].body["model"] == settings.OPENAI_REPORT_MODEL
    assert openai_fake.requests[0].body["input"] == "facts"


def test_summarize_raises_llm_error_for_the_caller_to_fall_back(openai_fake, settings):
    openai_fake.default = "quota"
    with pytest.raises(llm.LLMError) as failure:
        llm.summarize("facts", instructions="x")
    assert failure.value.kind == llm.API and len(openai_fake.requests) == 1  # no SDK retries
    settings.OPENAI_API_KEY = ""
    with pytest.raises(llm.LLMError):
        llm.summarize("facts", instructions="x")


def test_summarize_turns_a_malformed_body_into_llm_error(openai_fake):
    openai_fake.script("malformed")
    with pytest.raises(llm.LLMError, match="malformed response"):
        llm.summarize("facts", instructions="x")
