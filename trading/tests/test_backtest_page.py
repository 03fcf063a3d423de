"""The Backtest page: validation, a run as a background job with progress, the report."""

import json
from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from rq.job import Job

from conftest import store_minutes
from core.redis_conn import get_redis
from trading import backtest_runs

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"symbol": "BTC", "from": "2030-01-01", "to": "2030-01-02"}, "not a KRW market like KRW-BTC"),
        ({"symbol": "KRW-BTC", "from": "soon", "to": "2030-01-02"}, "'from' must be a date (YYYY-MM-DD)"),
        ({"symbol": "KRW-BTC", "from": "2030-01-02", "to": "2030-01-01"}, "'to' must not be before 'from'"),
        ({"symbol": "KRW-BTC", "from": "2028-01-01", "to": "2030-01-01"}, "at most 400 days per run"),
        (
            {"symbol": "KRW-BTC", "from": "2030-01-01", "to": "2030-01-02", "config": "99"},
            "version 99 does not exist",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_reason(client, operator, form, message):
    response = client.post("/backtest/", form)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")


def test_a_run_goes_through_a_worker_and_shows_its_report(client, operator, run_jobs):
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 3 * 1440, end=end, seed=5)
    today = timezone.localtime(end).date()
    response = client.post(
        "/backtest/",
        {"symbol": "KRW-BTC", "from": str(today - timedelta(days=2)), "to": str(today + timedelta(days=1))},
    )
    assert response.status_code == 302
    run_id = response["Location"].rstrip("/").split("/")[-1]
    assert client.get(f"/backtest/{run_id}.json").json()["status"] == "queued"

    run_jobs("default")

    body = client.get(f"/backtest/{run_id}.json").json()
    assert body["status"] == "finished" and body["pct"] == 100
    report = body["report"]
    assert report["symbol"] == "KRW-BTC" and report["stats"]["bars"] > 2000
    assert "UNKNOWN" in report["text"] or "regime" in report["text"].lower()  # 3 days < 200 hours
    assert len(report["t"]) == len(report["equity"]) <= 5000
    assert "KRW-BTC" in client.get("/backtest/").content.decode()  # listed among the recent runs


def test_a_finished_runs_report_is_read_once_and_the_list_and_page_never_read_it(
    client, operator, run_jobs, settings, monkeypatch
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 2 * 1440, end=end, seed=5)
    today = timezone.localtime(end).date()
    run_id = backtest_runs.start_run(
        backtest_runs.parse_form(
            {"symbol": "KRW-BTC", "from": str(today - timedelta(days=1)), "to": str(today)}
        )[0]
    )
    run_jobs("default")
    english = client.get(f"/backtest/{run_id}.json").content
    korean = client.get(f"/backtest/{run_id}.json", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert korean["status_label"] != "finished" and korean["report"] == json.loads(english)["report"]

    def no_report(job):  # a year's report is about a megabyte
        raise AssertionError(f"the report of {job.id} was read")

    monkeypatch.setattr(Job, "return_value", no_report)
    assert client.get(f"/backtest/{run_id}.json").content == english  # kept: not read again
    assert client.get(f"/backtest/{run_id}.json", HTTP_ACCEPT_LANGUAGE="ko").json() == korean
    assert run_id in client.get("/backtest/").content.decode()  # listed
    assert client.get(f"/backtest/{run_id}/").status_code == 200


def test_a_run_without_candles_fails_with_a_clear_error(client, operator, run_jobs):
    run_id = backtest_runs.start_run(
        backtest_runs.parse_form({"symbol": "KRW-NONE", "from": "2030-01-01", "to": "2030-01-03"})[0]
    )
    with pytest.raises(ValueError):
        backtest_runs.execute("KRW-NONE", "2030-01-01T00:00:00+09:00", "2030-01-03T00:00:00+09:00", None)
    run_jobs("default")
    assert "no candles stored for KRW-NONE" in client.get(f"/backtest/{run_id}.json").json()["error"]


def test_unknown_runs_are_404(client, operator):
    assert client.get("/backtest/nope.json").status_code == 404
    assert client.get("/backtest/nope/").status_code == 404


def test_the_to_day_is_included_as_people_read_it():
    req, errors = backtest_runs.parse_form({"symbol": "KRW-BTC", "from": "2030-01-02", "to": "2030-01-02"})
    assert errors == []
    kst_midnight = lambda day: timezone.make_aware(datetime.combine(day, time()))  # noqa: E731
    assert (req.start, req.end) == (kst_midnight(date(2030, 1, 2)), kst_midnight(date(2030, 1, 3)))
    year = {"symbol": "KRW-BTC", "from": "2029-01-01"}
    assert backtest_runs.parse_form(year | {"to": "2030-02-04"})[1] == []  # 400 days, both ends counted
    assert backtest_runs.parse_form(year | {"to": "2030-02-05"})[1] == ["at most 400 days per run"]


def test_the_form_says_when_its_default_days_hold_no_candles(client, operator):
    assert "No candles of KRW-BTC are stored yet" in client.get("/backtest/").content.decode()
    store_minutes("KRW-BTC", 60, end=timezone.now() - timedelta(days=90), seed=5)
    note = client.get("/backtest/").context["range_note"]
    assert note.startswith("No candles of KRW-BTC from ") and "stored minutes cover" in note
    store_minutes("KRW-BTC", 60, end=timezone.now().replace(second=0, microsecond=0), seed=5)
    assert client.get("/backtest/").context["range_note"] == ""


def test_the_list_reads_each_run_as_rq_restores_it_and_leaves_out_expired_ones(run_jobs):
    """recent_runs reads four fields of each job's hash; they must say what the whole Job says."""
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 2 * 1440, end=end, seed=5)
    today = str(timezone.localtime(end).date())
    finished = start("KRW-BTC", today, today)
    failed = start("KRW-NONE", "2030-01-01", "2030-01-03")
    run_jobs("default")
    queued = start("KRW-ETH", today, today)
    legacy = start("KRW-XRP", today, today)
    job = Job.fetch(legacy, connection=get_redis())
    job.meta.clear()  # a run queued before the titles were worded: its description is shown
    job.save_meta()
    expired = start("KRW-SOL", today, today)
    get_redis().delete(Job.key_for(expired))

    rows = backtest_runs.recent_runs()
    assert [row["id"] for row in rows] == [legacy, queued, failed, finished]  # newest first
    for language in ("en", "ko"):
        with translation.override(language):
            for row in backtest_runs.recent_runs():
                whole = backtest_runs.run_status(row["id"], report=False)  # rq's Job.fetch
                assert row == {key: whole[key] for key in row}
    statuses = {row["id"]: row["status"] for row in rows}
    assert (statuses[finished], statuses[failed], statuses[queued]) == ("finished", "failed", "queued")
    assert rows[0]["description"] == Job.fetch(legacy, connection=get_redis()).description


def start(symbol: str, first: str, last: str) -> str:
    request, errors = backtest_runs.parse_form({"symbol": symbol, "from": first, "to": last})
    assert errors == []
    return backtest_runs.start_run(request)
