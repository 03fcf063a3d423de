"""The Upbit exchange client against the fake exchange, which verifies JWTs like Upbit does."""

import hashlib
from decimal import Decimal

import jwt
import pytest

from market.upbit import RetryableError
from market.upbit_private import (
    AuthError,
    MalformedResponse,
    RequestRefused,
    UpbitExchangeClient,
    auth_token,
    parse_order,
    query_string,
)
from tests.fakes.upbit import FakeUpbit
from tests.fakes.upbit_exchange import SECRET_KEY, FakeExchange

D = Decimal


@pytest.fixture
def exchange():
    with FakeUpbit() as upbit:
        fake = FakeExchange(upbit)
        fake.prices["KRW-BTC"] = D("100000000")
        yield fake


OPEN_CLIENTS: list[UpbitExchangeClient] = []


@pytest.fixture(autouse=True)
def close_clients():
    """Each test's clients are closed after it (their pooled connections to the fake)."""
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def make_client(exchange, secret=SECRET_KEY, **options) -> UpbitExchangeClient:
    options = {"backoff": 0.01, "max_backoff": 0.05, "throttle_pause": 0.05, "timeout": 2} | options
    client = UpbitExchangeClient(exchange.url, access_key="test-access", secret_key=secret, **options)
    OPEN_CLIENTS.append(client)
    return client


def test_the_token_carries_a_fresh_nonce_and_the_hash_of_the_unencoded_query():
    params = {"market": "KRW-BTC", "identifier": "KRW-BTC-20300106T0300-BUY", "note": "a b:c"}
    first = jwt.decode(auth_token("ak", "sk", params), "sk", algorithms=["HS256"])
    second = jwt.decode(auth_token("ak", "sk", params), "sk", algorithms=["HS256"])
    assert query_string(params) == "market=KRW-BTC&identifier=KRW-BTC-20300106T0300-BUY&note=a+b:c"
    assert first["query_hash"] == hashlib.sha512(query_string(params).encode()).hexdigest()
    assert first["query_hash_alg"] == "SHA512" and first["access_key"] == "ak"
    assert first["nonce"] != second["nonce"]
    assert jwt.get_unverified_header(auth_token("ak", "sk"))["alg"] == "HS256"
    assert "query_hash" not in jwt.decode(auth_token("ak", "sk"), "sk", algorithms=["HS256"])


def test_accounts_parse_string_numbers_to_decimals(exchange):
    exchange.balances["BTC"] = D("0.005")
    balances = {b.currency: b for b in make_client(exchange).accounts()}
    assert balances["KRW"].total == D("1000000") and balances["BTC"].balance == D("0.005")
    assert exchange.refusals == []


def test_a_market_buy_is_signed_over_its_json_body_and_found_by_identifier(exchange):
    client = make_client(exchange)
    placed = client.market_buy("KRW-BTC", D("10000"), "KRW-BTC-20300106T0300-BUY")
    assert placed.state == "wait" and placed.executed_volume == 0
    [order] = exchange.placed()
    assert (order["ord_type"], order["price"], "volume" in order) == ("price", "10000", False)
    found = client.order(identifier="KRW-BTC-20300106T0300-BUY")  # first look-up: still wait
    done = client.order(uuid=placed.uuid)
    assert found.uuid == placed.uuid and done.state == "done"
    assert done.executed_volume == D("0.0001") and done.paid_fee == D("5")
    assert done.average_price() == D("100000000") and done.executed_at() is not None
    assert exchange.refusals == []


def test_a_market_sell_sends_volume_and_no_price(exchange):
    exchange.balances["BTC"] = D("0.001")
    client = make_client(exchange)
    client.market_sell("KRW-BTC", D("0.001"), "KRW-BTC-20300106T0400-SELL")
    [order] = exchange.placed()
    assert (order["ord_type"], order["volume"], "price" in order) == ("market", "0.001", False)


def test_an_unknown_order_is_none(exchange):
    assert make_client(exchange).order(identifier="never-sent") is None


def test_a_wrong_secret_is_a_permanent_auth_error_that_names_no_key(exchange):
    client = make_client(exchange, secret="wrong-secret-value")
    with pytest.raises(AuthError, match="jwt_verification") as caught:
        client.accounts()
    assert "wrong-secret-value" not in str(caught.value) and "Bearer" not in str(caught.value)
    assert "wrong-secret-value" not in repr(client)
    assert exchange.refusals == ["jwt_verification"]


def test_a_tampered_query_fails_the_hash_check(exchange, monkeypatch):
    client = make_client(exchange)
    real = client._headers
    monkeypatch.setattr(client, "_headers", lambda params: real(params | {"market": "KRW-ETH"}))
    with pytest.raises(AuthError, match="invalid_query_payload"):
        client.order(identifier="x")


def test_a_reused_nonce_is_refused(exchange, monkeypatch):
    client = make_client(exchange)
    token = auth_token("test-access", "test-secret")
    monkeypatch.setattr(client, "_headers", lambda params: {"Authorization": f"Bearer {token}"})
    client.accounts()
    with pytest.raises(AuthError, match="nonce_used"):
        client.accounts()


@pytest.mark.parametrize(
    ("krw", "name"), [("4000", "under_min_total_bid"), ("5000000", "insufficient_funds_bid")]
)
def test_refused_orders_are_permanent_errors(exchange, krw, name):
    with pytest.raises(RequestRefused) as caught:
        make_client(exchange).market_buy("KRW-BTC", D(krw), f"id-{name}")
    assert caught.value.name == name and caught.value.status == 400
    assert exchange.placed() == []


def test_an_identifier_is_never_accepted_twice(exchange):
    client = make_client(exchange)
    client.market_buy("KRW-BTC", D("10000"), "same-id")
    with pytest.raises(RequestRefused, match="identifier"):
        client.market_buy("KRW-BTC", D("10000"), "same-id")
    assert len(exchange.placed()) == 1


def test_an_order_answered_429_is_retried_with_a_new_token(exchange):
    exchange.inject["POST /v1/orders"] = [429, 429]
    client = make_client(exchange)
    client.market_buy("KRW-BTC", D("10000"), "KRW-BTC-20300106T0300-BUY")
    assert len(exchange.placed()) == 1 and client.stats["throttled"] == 2
    assert exchange.refusals == []  # each retry signed with a fresh nonce


@pytest.mark.parametrize("failure", [500, "lose"])
def test_an_order_with_an_unknown_outcome_is_not_resent(exchange, failure):
    exchange.inject["POST /v1/orders"] = [failure]
    client = make_client(exchange)
    with pytest.raises(RetryableError):
        client.market_buy("KRW-BTC", D("10000"), "KRW-BTC-20300106T0300-BUY")
    posts = [r for r in exchange.upbit.requests if r.method == "POST"]
    assert len(posts) == 1
    assert len(exchange.placed()) == (1 if failure == "lose" else 0)


def test_a_lookup_after_500_is_retried(exchange):
    exchange.inject["GET /v1/order"] = [500]
    assert make_client(exchange).order(identifier="nothing") is None


def test_malformed_order_bodies_are_clear_errors():
    good = {"uuid": "u", "market": "KRW-BTC", "side": "bid", "ord_type": "price", "state": "done",
            "executed_volume": "0.1", "paid_fee": "1"}  # fmt: skip
    assert parse_order(good).executed_volume == D("0.1")
    with pytest.raises(MalformedResponse, match="executed_volume"):
        parse_order(good | {"executed_volume": "abc"})
    with pytest.raises(MalformedResponse, match="state"):
        parse_order({k: v for k, v in good.items() if k != "state"})
    with pytest.raises(MalformedResponse, match="trades"):
        parse_order(good | {"trades": "none"})
    with pytest.raises(MalformedResponse, match="expected an object"):
        parse_order([good])
