"""How Discord's answers are sorted (no network: httpx.Response objects built by hand)."""

import httpx
import pytest

from core.notifications import discord

URL = "https://discord.com/api/webhooks/123456789012345678/secret-token_x"


def answer(status: int, *, json=None, text: str = "", headers: dict | None = None) -> discord.Answer:
    request = httpx.Request("POST", URL)
    if json is not None:
        return discord.classify(httpx.Response(status, json=json, headers=headers, request=request))
    return discord.classify(httpx.Response(status, text=text, headers=headers, request=request))


@pytest.mark.parametrize("status", [200, 204])
def test_2xx_is_accepted(status):
    assert answer(status, text="not even json").kind == discord.ACCEPTED


@pytest.mark.parametrize(
    ("json", "headers", "expected"),
    [
        ({"retry_after": 1.25, "global": False}, {"Retry-After": "2"}, 1.25),  # the body is precise
        ({"message": "slow down"}, {"Retry-After": "3"}, 3.0),
        (None, {"X-RateLimit-Reset-After": "0.75"}, 0.75),
        ({"retry_after": "soon"}, {}, 1.0),  # nonsense: wait a second rather than hammer
        ({"retry_after": 999999}, {}, discord.MAX_RETRY_AFTER),
    ],
)
def test_429_takes_retry_after_from_body_then_headers(json, headers, expected):
    result = (
        answer(429, json=json, headers=headers)
        if json is not None
        else answer(429, text="<html>", headers=headers)
    )

    assert result.kind == discord.RATE_LIMITED
    assert result.retry_after == expected


def test_an_empty_bucket_on_success_says_how_long_to_wait():
    result = answer(
        200, json={"id": "1"}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5"}
    )

    assert (result.kind, result.retry_after) == (discord.ACCEPTED, 1.5)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, discord.RETRYABLE), (502, discord.RETRYABLE), (408, discord.RETRYABLE), (404, discord.GONE)]
    + [
        (400, discord.PERMANENT),
        (401, discord.PERMANENT),
        (403, discord.PERMANENT),
        (413, discord.PERMANENT),
    ],
)
def test_statuses_are_sorted_into_retry_gone_or_permanent(status, kind):
    assert answer(status, text="<html>bad gateway</html>").kind == kind


def test_a_400_keeps_discords_reason():
    result = answer(
        400, json={"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": ["too long"]}}
    )

    assert result.error.startswith("HTTP 400: Invalid Form Body")
    assert "too long" in result.error


def test_network_errors_are_retryable_and_never_carry_the_url(monkeypatch):
    def refuse(*args, **kwargs):
        raise httpx.ConnectError(f"cannot reach {URL}")

    monkeypatch.setattr(httpx, "post", refuse)
    result = discord.execute_webhook(URL, {"content": "x"}, timeout=1)

    assert result.kind == discord.RETRYABLE
    assert "secret-token_x" not in result.error
    assert "/api/webhooks/12.../****" in result.error


def test_a_timeout_is_retryable(monkeypatch):
    def slow(*args, **kwargs):
        raise httpx.ReadTimeout("timed out")

    monkeypatch.setattr(httpx, "post", slow)

    assert (
        discord.execute_webhook(URL, {"content": "x"}, timeout=0.5).error
        == "timeout after 0.5s (ReadTimeout)"
    )
