"""The slot scheduler's guarantees, decided with a fixed clock (both test modes)."""

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from prometheus_client import REGISTRY

from core.models import JobRun
from core.scheduling import SlotScheduler, lock_key, run_scheduled
from core.tests import sample_jobs

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def hourly(settings):
    settings.COINPILOT_SCHEDULE = "core.tests.sample_jobs.HOURLY"
    return sample_jobs.HOURLY


@pytest.fixture
def timeouts(settings):
    settings.COINPILOT_SCHEDULE = "core.tests.sample_jobs.TIMEOUTS"
    return sample_jobs.TIMEOUTS


def queued_ids(queue: str = "default") -> set[str]:
    return set(django_rq.get_queue(queue).job_ids)


def test_two_schedulers_enqueue_a_slot_once(hourly):
    now = utc(2030, 1, 6, 13, 0, 2)  # a Sunday, 22:00:02 KST
    first, second = SlotScheduler(hourly), SlotScheduler(hourly)

    assert first.tick(now) == {"hourly": "enqueued", "kst_report": "enqueued"}
    assert second.tick(now + timedelta(seconds=2)) == {"hourly": "duplicate", "kst_report": "duplicate"}
    assert queued_ids() == {"sched-hourly-20300106T130000Z", "sched-kst_report-20300106T130000Z"}


def test_a_scheduler_decides_each_slot_only_once(hourly):
    scheduler = SlotScheduler(hourly)
    scheduler.tick(utc(2030, 1, 6, 10, 0, 1))
    assert scheduler.tick(utc(2030, 1, 6, 10, 0, 2)) == {}
    assert len(queued_ids()) == 1


def test_missed_slots_coalesce_into_the_latest_within_grace(hourly):
    SlotScheduler(hourly).tick(utc(2030, 1, 6, 10, 0, 1))
    # the scheduler was down from 10:00 to 12:03: the 11:00 slot is gone, 12:00 runs once
    outcomes = SlotScheduler(hourly).tick(utc(2030, 1, 6, 12, 3, 0))

    assert outcomes == {"hourly": "enqueued"}
    assert queued_ids() == {"sched-hourly-20300106T100000Z", "sched-hourly-20300106T120000Z"}


def test_slot_older_than_its_grace_is_dropped(hourly):
    assert SlotScheduler(hourly).tick(utc(2030, 1, 6, 12, 5, 1)) == {}  # grace is 300 s
    assert queued_ids() == set()


def test_cron_is_evaluated_in_the_jobs_time_zone(hourly):
    report = hourly[1]
    # 22:00 KST is 13:00 UTC; at 13:30 UTC the due slot is today's 13:00 UTC
    assert report.due_slot(utc(2030, 1, 6, 13, 30)) == utc(2030, 1, 6, 13, 0)
    assert report.next_slot(utc(2030, 1, 6, 13, 30)) == utc(2030, 1, 7, 13, 0)


def test_a_remembered_next_slot_is_the_one_croniter_gives(hourly):
    """next_slot remembers its answer until that slot; any moment, in any order, still gets the first
    slot strictly after it (times going back, exactly on a slot, a second before one)."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    start = utc(2030, 1, 6, 12, 58)
    moments = [start + timedelta(seconds=s) for s in range(0, 3 * 3600, 37)]
    moments += [
        utc(2030, 1, 6, 13, 0),
        utc(2030, 1, 6, 12, 59, 59),
        utc(2030, 1, 5, 9, 0),
        utc(2030, 1, 6, 14, 0),
    ]
    for schedule in hourly:
        for moment in moments:
            local = moment.astimezone(ZoneInfo(schedule.tz))
            assert schedule.next_slot(moment) == croniter(schedule.cron, local).get_next(datetime).astimezone(
                UTC
            )


def test_slot_is_skipped_while_the_previous_run_holds_the_lock(hourly, redis_conn):
    redis_conn.set(lock_key("hourly"), "held")
    now = utc(2030, 1, 6, 10, 0, 1)

    assert SlotScheduler(hourly).tick(now)["hourly"] == "skipped-running"
    redis_conn.delete(lock_key("hourly"))
    # the slot was decided: neither this nor another scheduler queues it behind the finished run
    assert SlotScheduler(hourly).tick(now + timedelta(seconds=5)).get("hourly") == "duplicate"
    skipped = JobRun.objects.get(claim="sched-hourly-20300106T100000Z")
    assert (skipped.status, skipped.message) == ("skipped", "previous run still going when the slot came up")
    assert "sched-hourly-20300106T100000Z" not in queued_ids()


def test_a_slot_is_decided_once_even_after_redis_forgot_everything(hourly, redis_conn):
    now = utc(2030, 1, 6, 10, 0, 1)
    assert SlotScheduler(hourly).tick(now)["hourly"] == "enqueued"
    redis_conn.flushdb()  # queue, locks and every key gone

    assert SlotScheduler(hourly).tick(now + timedelta(seconds=3))["hourly"] == "duplicate"
    assert queued_ids() == set()
    assert JobRun.objects.filter(job="hourly").count() == 1


def test_a_slot_runs_once_even_when_its_job_is_delivered_twice(timeouts):
    fine = timeouts[2]
    slot = fine.due_slot(datetime.now(UTC))
    SlotScheduler([fine]).tick(slot + timedelta(seconds=1))

    assert run_scheduled("fine", slot.isoformat()) == "recorded"
    assert run_scheduled("fine", slot.isoformat()) == "duplicate"
    assert len(sample_jobs.runs()) == 1
    assert JobRun.objects.get(job="fine").status == "success"


@pytest.mark.django_db(transaction=True)  # the heartbeat thread writes the run's row meanwhile
def test_a_run_longer_than_its_lock_keeps_it_renewed_by_its_heartbeat(settings, caplog):
    """The heartbeat thread extends the lock the run took (2.5 s run, 1 s lock renewed every 0.2 s):
    the lock is still held at the end and no renewal failed."""
    settings.COINPILOT_SCHEDULE = "core.tests.sample_jobs.LONG"
    settings.JOB_HEARTBEAT_SECONDS, settings.JOB_HEARTBEAT_STALE_SECONDS = 0.2, 1
    slot = sample_jobs.LONG[0].due_slot(datetime.now(UTC))

    with caplog.at_level("WARNING", logger="core.scheduling"):
        summary = run_scheduled("outlive", slot.isoformat(), on_demand=True)

    ttl = int(summary.removeprefix("lock ttl "))
    assert JobRun.objects.get(job="outlive").status == "success"
    assert 0 < ttl <= 1000, summary
    assert "could not renew" not in caplog.text


def test_a_live_run_blocks_the_next_slot_when_redis_lost_its_lock(hourly):
    JobRun.start("hourly", utc(2030, 1, 6, 9, 0))  # heartbeat fresh, no Redis lock

    assert SlotScheduler(hourly).tick(utc(2030, 1, 6, 10, 0, 1))["hourly"] == "skipped-running"


def test_a_dead_run_is_marked_lost_alerted_once_and_blocks_nothing(
    hourly, django_capture_on_commit_callbacks
):
    dead = JobRun.start("hourly", utc(2030, 1, 6, 9, 0))
    JobRun.objects.filter(pk=dead.pk).update(heartbeat_at=datetime.now(UTC) - timedelta(seconds=60))
    scheduler = SlotScheduler(hourly)

    assert scheduler.tick(utc(2030, 1, 6, 10, 0, 1))["hourly"] == "enqueued"
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.sweep() == [f"hourly@{dead.slot:%H:%M:%S} lost"]
        assert SlotScheduler(hourly).sweep() == []  # a second scheduler does not alert again
    dead.refresh_from_db()
    assert dead.status == "lost"
    alerts = [job.args[1]["title"] for job in django_rq.get_queue("notifications").jobs]
    assert alerts == ["Job hourly died"]


def test_a_queued_slot_no_worker_started_is_closed_as_skipped(hourly):
    slot = utc(2030, 1, 6, 10, 0)
    SlotScheduler(hourly).tick(slot + timedelta(seconds=1))

    SlotScheduler(hourly).sweep(now=slot + timedelta(seconds=hourly[0].grace + 10))
    assert JobRun.objects.get(job="hourly").status == "queued"  # still within grace + margin
    SlotScheduler(hourly).sweep(now=slot + timedelta(seconds=hourly[0].grace + 31))
    run = JobRun.objects.get(job="hourly")
    assert run.status == "skipped" and "no worker started it" in run.message


def test_worker_runs_the_slot_and_records_it(timeouts, run_jobs):
    fine = timeouts[2]
    slot = fine.due_slot(datetime.now(UTC))
    SlotScheduler([fine]).tick(slot + timedelta(seconds=1))
    labels = {"job": "fine", "outcome": "success"}
    before = REGISTRY.get_sample_value("coinpilot_job_runs_total", labels) or 0

    run_jobs("default")

    run = JobRun.objects.get(job="fine")
    assert (run.status, run.slot, run.message) == ("success", slot, "recorded")
    assert run.duration_ms is not None and run.finished_at is not None
    assert [r["slot"] for r in sample_jobs.runs()] == [slot.isoformat()]
    assert REGISTRY.get_sample_value("coinpilot_job_runs_total", labels) == before + 1


def test_a_stale_slot_is_not_run(hourly):
    stale = datetime.now(UTC) - timedelta(hours=1)

    assert run_scheduled("hourly", stale.isoformat()) == "skipped-stale"
    assert sample_jobs.runs() == []
    assert JobRun.objects.get(job="hourly").status == "skipped"


def test_a_second_run_while_the_lock_is_held_is_skipped(hourly, redis_conn):
    redis_conn.set(lock_key("hourly"), "held")

    assert run_scheduled("hourly", datetime.now(UTC).isoformat()) == "skipped-overlap"
    assert sample_jobs.runs() == []
    assert JobRun.objects.get(job="hourly").message == "previous run still holds the lock"


def test_failure_is_recorded_and_alerted(timeouts, django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    # alerts are queued when the surrounding transaction commits (none in a worker: at once)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        run_scheduled("failing", now.isoformat())

    run = JobRun.objects.get(job="failing")
    assert run.status == "failure"
    assert run.message == "RuntimeError: boom on purpose"
    alerts = django_rq.get_queue("notifications").jobs
    assert [job.args[0] for job in alerts] == ["system"]
    assert alerts[0].args[1]["title"] == "Job failing failed"
    assert sample_jobs.runs() == []


def test_run_left_running_by_a_dead_worker_is_marked_lost(timeouts):
    orphan = JobRun.start("fine", datetime.now(UTC) - timedelta(minutes=1))
    JobRun.objects.filter(pk=orphan.pk).update(heartbeat_at=datetime.now(UTC) - timedelta(minutes=1))

    run_scheduled("fine", datetime.now(UTC).isoformat())

    orphan.refresh_from_db()
    assert orphan.status == "lost"
    assert JobRun.objects.filter(job="fine", status="success").count() == 1


def test_a_job_can_be_run_once_on_demand_under_the_same_rules(timeouts, run_jobs):
    from core.scheduling import enqueue_now

    enqueue_now("fine")
    run_jobs("default")
    assert JobRun.objects.get(job="fine").status == "success"
    assert len(sample_jobs.runs()) == 1
