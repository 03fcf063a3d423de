"""`{% cachedfragment %}`: a table's rows rendered once per exact content, in the shared page cache.

The cache is a real Redis (the test database of REDIS_URL, or the embedded default's fakeredis on
loopback), as in test_caching.py.
"""

import dataclasses
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.template import Context, Template, TemplateSyntaxError
from django.utils import translation

from core import caching
from core.tests.test_caching import free_port, redis_cache, redis_url  # noqa: F401 (a fixture)
from trading.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cache_answers_at_start(monkeypatch):
    monkeypatch.setattr(caching, "_down_until", 0.0)
    monkeypatch.setattr(caching, "_failing", False)


@dataclasses.dataclass
class Holder:
    """A row the System page builds around a stored one (its JobHealth holds a JobRun)."""

    name: str
    run: Trade


class Renders:
    """Counts how often the fragment's body is rendered (it shows the count)."""

    def __init__(self):
        self.count = 0

    def __str__(self) -> str:
        self.count += 1
        return str(self.count)


ROWS = Template(
    "{% load fragments %}{% cachedfragment 'rows' trades %}"
    "{% for t in trades %}{{ t.status }} {% endfor %}#{{ renders }}{% endcachedfragment %}"
)


def trade(order_id: str, status: str = "FILLED") -> Trade:
    return Trade.objects.create(
        symbol="KRW-BTC",
        side="BUY",
        price=Decimal(1),
        quantity=Decimal(1),
        status=status,
        client_order_id=order_id,
    )


def render(renders: Renders) -> str:
    return ROWS.render(Context({"trades": list(Trade.objects.order_by("id")), "renders": renders}))


def test_the_same_rows_render_once_and_a_changed_field_renders_at_once(settings, redis_url):  # noqa: F811
    settings.CACHES = redis_cache(redis_url)
    renders = Renders()
    trade("a", status="PENDING")
    trade("b")

    assert render(renders) == "PENDING FILLED #1"
    assert render(renders) == "PENDING FILLED #1"  # served from Redis
    Trade.objects.filter(client_order_id="a").update(status="FILLED")  # no new row: the content changed
    assert render(renders) == "FILLED FILLED #2"
    trade("c")
    assert render(renders) == "FILLED FILLED FILLED #3"
    with translation.override("ko"):
        assert render(renders) == "FILLED FILLED FILLED #4"  # each language has its own rendering


def test_without_redis_every_request_renders(settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    renders = Renders()
    trade("a")
    assert [render(renders) for _ in range(3)] == ["FILLED #1", "FILLED #2", "FILLED #3"]


def test_the_digest_sees_every_loaded_field_and_the_order():
    first, second = trade("a"), trade("b")
    before = caching.digest([first, second])
    assert caching.digest([second, first]) != before
    assert caching.digest([first], [second]) != before
    second.fee = Decimal("0.5")
    assert caching.digest([first, second]) != before
    second.fee = Decimal(0)
    assert caching.digest([first, second]) == before
    assert caching.digest([{"a": 1}], None) != caching.digest([{"a": 2}], None)
    assert caching.digest({"BULL": {"1h": {"vetoes": 1}}}) != caching.digest({"BULL": {"1h": {"vetoes": 2}}})
    held = Holder(name="job", run=Trade.objects.get(pk=first.pk))
    assert caching.digest(held) == caching.digest(Holder(name="job", run=Trade.objects.get(pk=first.pk)))
    held.run.status = "FAILED"
    assert caching.digest(held) != caching.digest(Holder(name="job", run=Trade.objects.get(pk=first.pk)))
    annotated = Trade.objects.annotate(doubled=models.F("price") * 2).get(pk=first.pk)
    assert caching.digest(annotated) != caching.digest(Trade.objects.get(pk=first.pk))


def test_a_fragment_without_the_values_it_shows_is_refused():
    with pytest.raises(TemplateSyntaxError, match="at least one value"):
        Template("{% load fragments %}{% cachedfragment 'rows' %}x{% endcachedfragment %}")


def test_history_shows_a_status_changed_after_the_page_was_cached(client, settings, redis_url):  # noqa: F811
    settings.CACHES = redis_cache(redis_url)
    client.force_login(get_user_model().objects.create_user("operator", password="pw-123456789"))
    trade("live-1", status="PENDING")

    assert "PENDING" in client.get("/history/").content.decode()
    Trade.objects.filter(client_order_id="live-1").update(status="FILLED")
    page = client.get("/history/").content.decode()
    assert "FILLED" in page and "PENDING" not in page
    korean = client.get("/history/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "매수" in korean  # BUY named in Korean: not the English rows from the cache


def test_plain_rows_are_fingerprinted_whole_and_stay_apart_from_other_shapes():
    from datetime import UTC, datetime

    at = datetime(2026, 12, 3, 15, tzinfo=UTC)
    row = {"id": 1, "price": Decimal("1.10"), "executed_at": at, "exit_reason": None, "win": True}
    assert caching.digest([row, dict(row)]) == caching.digest([dict(row), row])
    for changed in ({"price": Decimal("1.2")}, {"executed_at": at.replace(minute=1)}, {"exit_reason": ""}):
        assert caching.digest([row]) != caching.digest([row | changed])
    # the same values in other shapes: a dict and its items, a string that reads like a row, a
    # tuple and a list, a list and its items as separate parts, a plain and a nested dict
    assert caching.digest(row) != caching.digest(list(row.items()))
    assert caching.digest(row) != caching.digest(repr(row))
    assert caching.digest((1, 2)) != caching.digest([1, 2])
    assert caching.digest([1, 2]) != caching.digest(1, 2)
    assert caching.digest({"a": {"b": 1}}) != caching.digest({"a": "{'b': 1}"})
    assert caching.digest({"run": Trade(pk=1, fee=1)}) != caching.digest({"run": Trade(pk=1, fee=2)})
