"""Two real `rqworker lab` processes share one study through PostgreSQL and Redis; one is killed
(SIGKILL) in the middle of a trial, and the study still ends with all its trials."""

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from optuna.trial import TrialState

from lab.models import Study
from lab.study import create_study, load_optuna_study, start_study
from tests.waiting import wait_for

from .helpers import request, store_synthetic

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]
SYMBOLS = ["KRW-AAA", "KRW-BBB"]
N_TRIALS = 10


def parent_of(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def running_trial_of(study: Study, workers: dict[int, object]):
    """(trial number, worker pid) of a trial running right now in one of `workers`' work-horses."""
    for trial in load_optuna_study(study).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        process = trial.user_attrs.get("process")
        # every parameter stored: a trial killed half-way through suggesting is retried with fewer
        if process and len(trial.params) == len(study.space) and parent_of(process["pid"]) in workers:
            return trial.number, parent_of(process["pid"])
    return None


def test_two_workers_share_a_study_and_a_killed_one_loses_only_its_trial(spawn, subprocess_env):
    for seed, symbol in enumerate(SYMBOLS, start=7):
        store_synthetic(symbol, days=40, seed=seed)
    study = create_study(
        request(
            symbols=SYMBOLS, start=datetime(2025, 1, 10, tzinfo=UTC), end=datetime(2025, 2, 9, tzinfo=UTC),
            regimes=["SIDEWAYS"], force_regime="", n_trials=N_TRIALS, min_trades=1,
        )
    )  # fmt: skip
    env = subprocess_env | {"LAB_HEARTBEAT_SECONDS": "1", "LAB_STALE_TRIAL_SECONDS": "3"}
    workers = {}
    for name in ("lab-a", "lab-b"):
        worker = spawn("rqworker", "lab", "--name", name, env=env)
        workers[worker.pid] = worker
    start_study(study)

    number, victim = wait_for(lambda: running_trial_of(study, workers), 90, "a running trial")
    os.kill(victim, signal.SIGKILL)
    workers[victim].wait(timeout=10)

    def finished():
        study.refresh_from_db()
        return study.finished

    wait_for(finished, 120, "the study to end")
    assert study.status == Study.Status.DONE, study.error
    trials = load_optuna_study(study).get_trials()
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == N_TRIALS
    killed = trials[number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in counted if t.system_attrs.get("failed_trial") == number]
    assert len(retries) == 1 and retries[0].params == killed.params  # tried again, same parameters
    survivor = next(pid for pid in workers if pid != victim)
    ran_by = {parent_of(t.user_attrs["process"]["pid"]) for t in counted} - {None}
    assert ran_by <= {survivor, victim}
    hosts = {t.user_attrs["process"]["pid"] for t in trials}
    assert len(hosts) >= 2  # both workers' horses ran trials
