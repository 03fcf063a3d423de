"""A study from request to result: stored, started on the `lab` queue, run trial by trial by any
number of workers sharing it through the database, cancellable, summarised.

Each trial is asked of Optuna (`study.ask()`), run on the backtester and told back
(`study.tell()`) by whichever worker took it. A short lock per study (Redis) makes "how many
trials are left" and the ask one step, so a study runs exactly its number of trials however many
workers share it. A worker killed mid-trial stops renewing its trial's heartbeat: after
LAB_STALE_TRIAL_SECONDS the trial is failed and queued again with the same parameters, and the
study still ends with its number of trials.
"""

import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from types import SimpleNamespace

import optuna
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from optuna.study._multi_objective import _get_pareto_front_trials_by_trials
from optuna.trial import TrialState

from core.redis_conn import get_redis
from trading.backtest_runs import parse_symbols
from trading.config import active_row
from trading.models import RiskConfig, StrategyConfig

from . import trials
from .inputs import StudyRequest, request_errors
from .models import Study
from .objectives import OBJECTIVES
from .storage import complete_values, heartbeat, optuna_storage, quiet, trial_durations

log = logging.getLogger(__name__)

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # a trial with a value, or an honest n/a
IN_FLIGHT = (TrialState.RUNNING, TrialState.WAITING)
MAX_ERRORS = 3  # trials that raised: a study failing every trial stops instead of retrying forever
ASK_LOCK_SECONDS = 30


class StudyRefused(ValueError):
    """The request was refused; `messages` lists every reason."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def create_study(req: StudyRequest, user=None) -> Study:
    """Store a checked request as a queued study (raises StudyRefused, storing nothing)."""
    errors = request_errors(req)
    if errors:
        raise StudyRefused(errors)
    qs = StrategyConfig.objects
    base = qs.get(version=req.base_version) if req.base_version else active_row(StrategyConfig)
    risk = active_row(RiskConfig)
    symbols, _ = parse_symbols(",".join(req.symbols))  # as typed -> KRW-BTC, in the order given
    name = f"coinpilot-lab-{uuid.uuid4().hex[:12]}"
    directions = [OBJECTIVES[objective].direction for objective in req.objectives]
    # Optuna's study first (its own connection): a row never names a study that is not there
    optuna.create_study(study_name=name, storage=optuna_storage(), directions=directions)
    return Study.objects.create(
        symbols=symbols, start=req.start, end=req.end, regimes=list(req.regimes),
        space=req.space, objectives=list(req.objectives),
        directions=directions, n_trials=req.n_trials,
        seed=req.seed, fee_pct=req.fee_pct, slippage_bps=req.slippage_bps, min_trades=req.min_trades,
        force_regime=req.force_regime, base_config=base, risk_version=risk.version if risk else None,
        optuna_name=name, created_by=user,
    )  # fmt: skip


def sampler_for(study: Study, seed: int) -> optuna.samplers.BaseSampler:
    """TPE for one objective, NSGA-II for two; each trial draws from its own seed (workers that
    shared one seed would all try the same first points)."""
    if study.multi_objective:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def load_optuna_study(study: Study) -> optuna.Study:
    return optuna.load_study(
        study_name=study.optuna_name, storage=optuna_storage(), sampler=sampler_for(study, study.seed)
    )


# --- starting and stopping


def start_study(study: Study) -> None:
    """Queue the study's jobs on the `lab` queue; each runs trials for a while and hands over to
    a successor until the study is done. More jobs than workers: every worker can take one."""
    from .jobs import enqueue_study_job  # the job module runs this one's functions

    if study.walk_forward:  # its trials belong to its folds (their in-sample ranges), not to it
        raise ValueError("a walk-forward run starts with lab.walkforward.start_walk_forward")
    jobs = min(study.n_trials, settings.LAB_PARALLEL_JOBS)
    transaction.on_commit(lambda: [enqueue_study_job(study.pk) for _ in range(jobs)])


def cancel_study(study: Study) -> bool:
    """Stop a queued or running study: queued jobs skip it, a running trial finishes. False if it
    had already ended."""
    stopped = Study.objects.filter(
        pk=study.pk, status__in=[Study.Status.QUEUED, Study.Status.RUNNING]
    ).update(status=Study.Status.CANCELLED, finished_at=timezone.now())
    if stopped:
        Study.objects.filter(pk=study.pk).update(result=summary(study, load_optuna_study(study)))
    study.refresh_from_db()
    return bool(stopped)


# --- running trials (a worker's job, or `manage.py optimize --inline`)


def run_trials(
    study: Study,
    *,
    max_seconds: float | None = None,
    max_trials: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Run the study's trials in this process until it is done or cancelled (or `max_seconds`
    have passed, it ran `max_trials`, or `stop()` says so after a trial); returns how many trials
    this call ran."""
    Study.objects.filter(pk=study.pk, status=Study.Status.QUEUED).update(status=Study.Status.RUNNING)
    opt = load_optuna_study(study)
    started, ran = time.monotonic(), 0
    while (max_seconds is None or time.monotonic() - started < max_seconds) and ran != max_trials:
        study.refresh_from_db(fields=["status"])
        if study.finished:
            break
        trial = next_trial(study, opt)
        if trial is None:
            if finish_if_done(study, opt):
                break
            time.sleep(1)  # the last trials run elsewhere; a dead one comes back as WAITING
            continue
        run_one(study, opt, trial)
        ran += 1
        if stop():
            break
    return ran


def next_trial(study: Study, opt: optuna.Study) -> optuna.Trial | None:
    """Ask for the next trial when the study still needs one (None: every trial is taken)."""
    with get_redis().lock(
        f"lab:study:{study.pk}:ask", timeout=ASK_LOCK_SECONDS, blocking_timeout=ASK_LOCK_SECONDS
    ):
        with quiet():
            optuna.storages.fail_stale_trials(opt)  # a dead worker's trial: FAIL, and a WAITING retry
        counts = state_counts(opt)
        taken = sum(counts[s] for s in (*COUNTED, *IN_FLIGHT))
        if taken >= study.n_trials and not counts[TrialState.WAITING]:
            return None
        opt.sampler = sampler_for(study, study.seed + sum(counts.values()))
        with quiet():
            trial = opt.ask()
        opt._storage.record_heartbeat(trial._trial_id)  # from now on a dead worker's trial turns stale
        return trial


def run_one(study: Study, opt: optuna.Study, trial: optuna.Trial) -> None:
    """Evaluate one trial and tell Optuna how it went (a value, pruned with the reason, or failed)."""
    storage = opt._storage
    trial.set_user_attr("process", {"host": socket.gethostname(), "pid": os.getpid()})
    with heartbeat(storage, trial._trial_id):
        try:
            values = trials.evaluate(study, trial)
        except trials.TrialRefused as exc:
            trial.set_user_attr("reason", str(exc))
            opt.tell(trial, state=TrialState.PRUNED)
            return
        except Exception as exc:
            log.exception("lab study %s: trial %s failed", study.pk, trial.number)
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-4000:]}")
            opt.tell(trial, state=TrialState.FAIL)
            failed = opt.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            errors = sum("error" in t.user_attrs for t in failed)  # not the trials of dead workers
            if errors >= MAX_ERRORS:
                fail_study(study, f"{errors} trials failed; the last: {type(exc).__name__}: {exc}")
            return
    opt.tell(trial, values)


def finish_if_done(study: Study, opt: optuna.Study) -> bool:
    """Mark the study done once it has all its trials; True when it has ended (by anyone)."""
    counts = state_counts(opt)
    if sum(counts[s] for s in COUNTED) < study.n_trials:
        return False
    finished = Study.objects.filter(
        pk=study.pk, status__in=[Study.Status.QUEUED, Study.Status.RUNNING]
    ).update(status=Study.Status.DONE, finished_at=timezone.now(), result=summary(study, opt))
    study.refresh_from_db()
    if finished and study.parent_id:  # a walk-forward fold: scored out of sample by whoever ended it
        from .walkforward import fold_finished  # walkforward builds on this module

        fold_finished(study)
    return True


def fail_study(study: Study, error: str) -> None:
    Study.objects.filter(pk=study.pk, status__in=[Study.Status.QUEUED, Study.Status.RUNNING]).update(
        status=Study.Status.FAILED, finished_at=timezone.now(), error=error[:2000]
    )
    study.refresh_from_db()


def state_counts(opt: optuna.Study) -> dict[TrialState, int]:
    """How many trials are in each state."""
    return count_states(trial_durations(opt.study_name))


def count_states(durations: list[tuple[TrialState, object]]) -> dict[TrialState, int]:
    """How many trials are in each state, of `lab.storage.trial_durations`."""
    counts = dict.fromkeys(TrialState, 0)
    for state, _ in durations:
        counts[state] += 1
    return counts


# --- what the page shows


def trial_row(trial: optuna.trial.FrozenTrial) -> dict:
    return {
        "number": trial.number,
        "values": trial.values,
        "params": trial.params,
        "figures": trial.user_attrs.get("figures", {}),
    }


def pareto_front(opt: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """opt.best_trials, loading only the trials on the front (not every trial's attributes)."""
    scored = [
        SimpleNamespace(state=TrialState.COMPLETE, values=v, id=i) for i, v in complete_values(opt._study_id)
    ]
    front = _get_pareto_front_trials_by_trials(scored, opt.directions)
    return [opt._storage.get_trial(t.id) for t in front]


def summary_counts(counts: dict[TrialState, int]) -> dict[str, int]:
    return {state.name.lower(): n for state, n in counts.items() if n}


def summary(study: Study, opt: optuna.Study, counts: dict | None = None) -> dict:
    """Counts and the best trial (one objective) or the Pareto front (two), JSON-ready."""
    counts = counts or state_counts(opt)
    result = {"counts": summary_counts(counts)}
    if not counts[TrialState.COMPLETE]:
        return result | {"best": None, "pareto": []}
    if study.multi_objective:
        return result | {"best": None, "pareto": [trial_row(t) for t in pareto_front(opt)]}
    return result | {"best": trial_row(opt.best_trial), "pareto": []}


def stored_summary(study: Study, counts: dict[TrialState, int]) -> dict | None:
    """The summary stored when the study ended (`study.result` as loaded), while its trial counts
    are still these: the best trial of an ended study without loading it from Optuna again (a
    trial running when a study was cancelled may still be told, which changes the counts)."""
    if study.result.get("counts") != summary_counts(counts):
        return None
    return study.result


def progress(study: Study, durations: list | None = None) -> dict:
    """Trials done / total, running, failed, the best so far and an ETA, for the page.
    `durations`: `trial_durations(study.optuna_name)` when the caller has them already."""
    study.refresh_from_db(fields=["status", "error", "finished_at"])  # not the result: the report's size
    trials_ = trial_durations(study.optuna_name) if durations is None else durations
    counts = count_states(trials_)
    done = counts[TrialState.COMPLETE] + counts[TrialState.PRUNED]
    seconds = [duration.total_seconds() for state, duration in trials_ if state in COUNTED and duration]
    mean = sum(seconds) / len(seconds) if seconds else None
    remaining = max(study.n_trials - done, 0)
    eta = None
    if mean is not None and not study.finished:
        eta = round(mean * remaining / max(1, counts[TrialState.RUNNING]), 1)
    best = stored_summary(study, counts)
    if best is None and counts[TrialState.COMPLETE]:
        best = summary(study, load_optuna_study(study), counts)
    best = best or {"best": None, "pareto": []}
    return {
        "status": study.status,
        "done": done,
        "total": study.n_trials,
        "complete": counts[TrialState.COMPLETE],
        "pruned": counts[TrialState.PRUNED],
        "running": counts[TrialState.RUNNING],
        "failed": counts[TrialState.FAIL],
        "best_value": best["best"]["values"][0] if best["best"] else None,
        "best_params": best["best"]["params"] if best["best"] else None,
        "pareto": best["pareto"],
        "mean_trial_seconds": round(mean, 3) if mean is not None else None,
        "eta_seconds": eta,
        "error": study.error,
    }


def candidate_params(study: Study, number: int | None = None) -> dict[str, dict]:
    """Every regime's full parameter block: the base version's with a trial's values (the best
    trial's by default; with two objectives, name one of the Pareto front). What promoting the
    result stores as a new version; raises ValueError when there is no such trial."""
    opt = load_optuna_study(study)
    if number is None:
        if study.multi_objective:
            raise ValueError(
                gettext("a study with two objectives has a Pareto front: name the trial to promote")
            )
        trial = opt.best_trial  # ValueError without a completed trial
    else:
        trial = next((t for t in opt.get_trials(deepcopy=False) if t.number == number), None)
        if trial is None or trial.state != TrialState.COMPLETE:
            raise ValueError(
                gettext("trial %(trial)s of study %(number)s has no value to promote")
                % {"trial": number, "number": study.pk}
            )
    return trial_params(study, trial)


def trial_params(study: Study, trial: optuna.trial.FrozenTrial) -> dict[str, dict]:
    """Every regime's full parameter block: the base version's with the trial's values."""
    params = trials.overlay(trials.base_params(study), trials.by_regime(trial.params), study.symbols)
    return {regime: block.model_dump() for regime, block in params.regimes.items()}
