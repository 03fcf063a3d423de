"""Small studies on the real KRW-BTC week, run in this process and through the `lab` queue: trials
stored in the project's database, resumed after the storage is rebuilt, pruned with a reason,
cancelled."""

import re
from decimal import Decimal
from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from django.db import connection
from optuna.trial import TrialState
from rq.job import Job
from rq.registry import FinishedJobRegistry
from rq.worker import SimpleWorker

from lab import storage
from lab.jobs import run_study_slice, work_waiting
from lab.models import Study
from lab.study import (
    cancel_study,
    candidate_params,
    create_study,
    load_optuna_study,
    progress,
    run_trials,
    start_study,
)
from trading.config import default_strategy

from .helpers import request, store_week

# Optuna writes through its own connection: the rows must be committed for it to see them.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def week():
    store_week("KRW-BTC")


def states(study: Study) -> list[str]:
    return [t.state.name for t in load_optuna_study(study).get_trials(deepcopy=False)]


def test_a_study_runs_inline_and_stores_its_trials_in_the_project_database():
    study = create_study(request())
    assert run_trials(study) == 6
    study.refresh_from_db()
    assert study.status == Study.Status.DONE and study.finished_at is not None
    with connection.cursor() as cursor:  # Optuna's own tables, in the database Django uses
        cursor.execute(
            "SELECT COUNT(*) FROM trials JOIN studies ON trials.study_id = studies.study_id "
            "WHERE studies.study_name = %s",
            [study.optuna_name],
        )
        assert cursor.fetchone()[0] == 6
    assert states(study).count("COMPLETE") + states(study).count("PRUNED") == 6
    best = study.result["best"]
    assert best is not None and set(best["params"]) == set(study.space)
    assert 35 <= best["params"]["SIDEWAYS.rsi_14_max"] <= 70
    assert best["figures"]["trades"] >= 3
    state = progress(study)
    assert (state["done"], state["total"], state["running"], state["eta_seconds"]) == (6, 6, 0, None)
    assert state["best_value"] == best["values"][0] and state["best_params"] == best["params"]
    blocks = candidate_params(study)  # what promoting the result stores: the base with the best values
    assert blocks["SIDEWAYS"]["rsi_14_max"] == best["params"]["SIDEWAYS.rsi_14_max"]
    assert blocks["BULL"] == default_strategy().regimes["BULL"].model_dump()


def test_an_ended_studys_best_is_read_from_its_summary_until_its_trials_change():
    study = create_study(request())
    run_trials(study)
    study = Study.objects.get(pk=study.pk)
    best = study.result["best"]
    assert progress(study)["best_value"] == best["values"][0]
    marked = study.result | {"best": best | {"values": [123.0]}}  # tells the stored summary apart
    Study.objects.filter(pk=study.pk).update(result=marked)
    study = Study.objects.get(pk=study.pk)
    assert progress(study)["best_value"] == 123.0  # the stored summary, not Optuna's trials
    opt = load_optuna_study(study)
    with storage.quiet():  # asked by hand, as the lab does (not study.optimize)
        late = opt.ask()  # as a trial still running when a study was cancelled, told afterwards
        opt.tell(late, best["values"][0] - 1)  # worse (the Sharpe ratio is maximised): the best stays
    state = progress(study)
    assert state["complete"] == states(study).count("COMPLETE")
    assert state["best_value"] == best["values"][0]  # Optuna's again: the counts changed


def test_the_same_seed_tries_the_same_parameters():
    first, second = create_study(request()), create_study(request())
    run_trials(first)
    run_trials(second)
    params = [[t.params for t in load_optuna_study(s).get_trials()] for s in (first, second)]
    assert params[0] == params[1]
    assert len({tuple(sorted(p.items())) for p in params[0]}) > 1  # and they do differ between trials


def test_a_study_resumes_after_the_storage_is_rebuilt():
    study = create_study(request())
    assert run_trials(study, max_trials=3) == 3
    storage.forget_storages()  # as after a restart: a new engine, new connections
    study = Study.objects.get(pk=study.pk)
    assert study.status == Study.Status.RUNNING and progress(study)["done"] == 3
    assert run_trials(study) == 3
    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert [t.number for t in load_optuna_study(study).get_trials()] == list(range(6))


def test_two_objectives_give_a_pareto_front_with_nsga_ii():
    study = create_study(request(objectives=["total_return", "max_drawdown"], n_trials=6))
    assert study.directions == ["maximize", "minimize"]
    run_trials(study)
    study.refresh_from_db()
    opt = load_optuna_study(study)
    assert type(opt.sampler).__name__ == "NSGAIISampler"
    front = study.result["pareto"]
    assert study.status == Study.Status.DONE and front and study.result["best"] is None
    assert all(len(row["values"]) == 2 for row in front)


def test_too_few_trades_prune_the_trial_with_the_reason():
    study = create_study(request(min_trades=10_000, n_trials=2))
    run_trials(study)
    study.refresh_from_db()
    trials = load_optuna_study(study).get_trials()
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    assert trials[0].user_attrs["reason"].startswith("n/a: only ")
    assert trials[0].user_attrs["reason"].endswith(" trades (at least 10000 needed)")
    assert study.status == Study.Status.DONE and study.result["best"] is None


def test_pairs_kept_in_order_are_drawn_in_order():
    space = {"SIDEWAYS.rsi_7_trigger": {"low": 15, "high": 45, "step": 5},
             "SIDEWAYS.rsi_7_recover": {"low": 20, "high": 50, "step": 5},
             "SIDEWAYS.stop_loss_pct": {"low": 0.5, "high": 6, "step": 0.5}}  # fmt: skip
    study = create_study(request(space=space, n_trials=12, min_trades=1))
    run_trials(study)
    trials = load_optuna_study(study).get_trials()
    assert all(t.params["SIDEWAYS.rsi_7_trigger"] < t.params["SIDEWAYS.rsi_7_recover"] for t in trials)
    assert all(t.params["SIDEWAYS.stop_loss_pct"] <= 3.0 for t in trials)  # the base take profit
    assert not [t for t in trials if "contradict" in t.user_attrs.get("reason", "")]


def test_parameters_that_contradict_each_other_prune_the_trial():
    space = {"SIDEWAYS.volume_surge_check": {"choices": [True]},
             "SIDEWAYS.volume_min_ratio": {"low": 1.5, "high": 2.0, "step": 0.25},
             "SIDEWAYS.volume_surge_ratio": {"low": 1.0, "high": 1.5, "step": 0.5}}  # fmt: skip
    study = create_study(request(space=space, n_trials=1))
    run_trials(study)
    (trial,) = load_optuna_study(study).get_trials()
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["reason"].startswith(
        "parameters contradict each other: SIDEWAYS: volume_surge_ratio"
    )


def test_a_study_runs_on_the_lab_queue(run_jobs):
    study = create_study(request())
    start_study(study)
    run_jobs("lab")
    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    assert states(study).count("COMPLETE") + states(study).count("PRUNED") == 6


def test_a_cancelled_study_runs_no_more_trials(run_jobs):
    study = create_study(request(n_trials=50))
    run_trials(study, max_trials=2)
    start_study(study)
    assert cancel_study(study) is True
    run_jobs("lab")
    assert run_study_slice(study.pk) == 0
    study.refresh_from_db()
    assert study.status == Study.Status.CANCELLED and len(states(study)) == 2
    assert study.result["counts"]["complete"] + study.result["counts"].get("pruned", 0) == 2
    assert cancel_study(study) is False  # already ended


def test_the_command_runs_a_study_inline_and_prints_the_best_parameters():
    out = StringIO()
    call_command(
        "optimize", "--symbols", "krw-btc", "--from", "2018-01-26", "--to", "2018-02-01T14:00",
        "--trials", "3", "--seed", "7", "--objective", "total_return", "--regime", "SIDEWAYS",
        "--param", "SIDEWAYS.rsi_14_max=35:70", "--param", "SIDEWAYS.take_profit_pct=1:4:0.5",
        "--min-trades", "1", "--fee", "0.1", "--inline", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    study = Study.objects.get()
    assert (study.symbols, study.regimes, study.status) == (["KRW-BTC"], ["SIDEWAYS"], Study.Status.DONE)
    assert study.slippage_bps == Decimal("5") and study.fee_pct == Decimal("0.1")
    assert text.startswith(f"study {study.pk}: 3 trials of total_return\n")
    assert "done: 3/3 trials" in text
    assert re.search(r"trial \d: total_return -?[\d.]+  \(\d+ trades, return -?[\d.]+ %", text)
    assert "  SIDEWAYS.rsi_14_max = " in text and "  SIDEWAYS.take_profit_pct = " in text


def test_a_slice_hands_its_worker_over_after_a_trial_when_other_work_waits():
    """The embedded default's one worker serves every queue: a study must not hold back a bot
    cycle (its grace is 30 s) for a whole slice of trials."""
    django_rq.get_queue("default").enqueue(work_waiting, [])
    assert work_waiting(["default"]) and not work_waiting(["bot"]) and not work_waiting([])
    study = create_study(request())
    start_study(study)
    worker = django_rq.get_worker("lab", "default", worker_class=SimpleWorker)
    worker.work(burst=True, with_scheduler=False)
    study.refresh_from_db()
    assert study.status == Study.Status.DONE
    connection = django_rq.get_connection("lab")
    finished = FinishedJobRegistry("lab", connection=connection).get_job_ids()
    ran = [Job.fetch(job_id, connection=connection).return_value() for job_id in finished]
    assert sum(ran) == 6 and max(ran) == 1  # one trial per slice while a default job waited


def test_a_trials_first_heartbeat_is_written_before_it_starts_and_in_its_own_thread(settings):
    # written from the heartbeat thread while the trial wrote its parameters, the two raced on the
    # tests' shared in-memory SQLite ("database table is locked")
    import threading

    settings.LAB_HEARTBEAT_SECONDS = 60

    class Storage:
        beats: list[str] = []

        def record_heartbeat(self, trial_id: int) -> None:
            self.beats.append(threading.current_thread().name)

    beating = Storage()
    with storage.heartbeat(beating, 7):
        assert beating.beats == [threading.current_thread().name]
    assert beating.beats == [threading.current_thread().name]  # the next one only after 60 s
