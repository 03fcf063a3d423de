"""Walk-forward runs: optimise on each fold's in-sample part, score the chosen parameters on the
out-of-sample part after it, and join the out-of-sample parts into one history.

A run is a parent Study (`walk_forward` folds, no trials of its own) whose folds are ordinary
child studies over their in-sample ranges, started like any study on the `lab` queue and so run in
parallel. When a fold's study finishes (lab.study.finish_if_done) its best parameters are
backtested on its out-of-sample range alone and the figures stored in the fold's `result`; the
parent is done once every fold is scored. The out-of-sample backtest reads the bars before its
range only to warm its indicators up, as the live bot would; its decisions and trades all lie in
the range.
"""

import copy
import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import optuna
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from trading.performance import daily_returns, sharpe

from . import trials
from .folds import DEFAULT_RATIO, check_shape, walk_forward_folds
from .inputs import StudyRequest, request_errors
from .models import Study
from .objectives import objective_value
from .storage import optuna_storage
from .study import StudyRefused, cancel_study, create_study, fail_study, run_trials, start_study

log = logging.getLogger(__name__)

OOS_FIGURES = (*trials.REPORTED, "final_equity_krw", "sortino", "calmar", "exposure_pct")
STABLE_SPREAD = 0.2  # chosen values spread over at most this share of the searched range: stable
DRIFTING_SPREAD = 0.5
SCORE_GRACE = timedelta(minutes=10)  # a fold done this long and not scored: its scorer was killed
STABLE_SHARE = 0.75  # a choice parameter: the same value in at least this share of the folds


# --- creating and running


def create_walk_forward(
    req: StudyRequest, *, folds: int, anchored: bool = False, ratio: float = DEFAULT_RATIO, user=None
) -> Study:
    """Store a walk-forward run: the parent and one queued study per fold over its in-sample
    part (raises StudyRefused with every reason, storing nothing)."""
    errors = request_errors(req) + walk_forward_errors(req, folds=folds, anchored=anchored, ratio=ratio)
    if errors:
        raise StudyRefused(errors)
    parts = walk_forward_folds(req.start, req.end, folds, anchored=anchored, ratio=ratio)
    # Not one transaction: each Optuna study is written through its own connection, which a
    # transaction holding SQLite's write lock would block. A refused fold removes the whole run.
    parent = create_study(req, user)
    Study.objects.filter(pk=parent.pk).update(walk_forward=folds, anchored=anchored, ratio=ratio)
    try:
        for part in parts:
            fold = create_study(replace(req, start=part.in_sample_start, end=part.in_sample_end), user)
            Study.objects.filter(pk=fold.pk).update(
                parent=parent, fold_index=part.index,
                out_of_sample_start=part.out_of_sample_start, out_of_sample_end=part.out_of_sample_end,
            )  # fmt: skip
    except StudyRefused as exc:
        remove_run(parent)
        raise StudyRefused(
            [gettext("fold %(fold)s: %(message)s") % {"fold": part.index, "message": m} for m in exc.messages]
        ) from exc
    parent.refresh_from_db()
    return parent


def walk_forward_errors(
    req: StudyRequest, *, folds: int, anchored: bool, ratio: float, dates: bool = True
) -> list[str]:
    """Why the request cannot be split into walk-forward folds (besides lab.inputs' refusals);
    `dates=False`: its dates could not be read, so the range is not checked."""
    errors = []
    if len(req.objectives) > 1:
        errors.append(gettext("a walk-forward run scores one parameter set per fold: choose one objective"))
    try:
        if dates:
            walk_forward_folds(req.start, req.end, folds, anchored=anchored, ratio=ratio)
        else:
            check_shape(folds, ratio)
    except ValueError as exc:
        errors.append(str(exc))
    return errors


def remove_run(parent: Study) -> None:
    """Delete a run that was refused half-way: its rows and its folds' Optuna studies."""
    for study in [parent, *fold_studies(parent)]:
        optuna.delete_study(study_name=study.optuna_name, storage=optuna_storage())
    parent.delete()  # and its folds


def fold_studies(parent: Study) -> list[Study]:
    return list(parent.folds.order_by("fold_index"))


def start_walk_forward(parent: Study) -> None:
    """Queue every fold's jobs on the `lab` queue: the folds are independent and run in parallel."""
    Study.objects.filter(pk=parent.pk, status=Study.Status.QUEUED).update(status=Study.Status.RUNNING)
    for fold in fold_studies(parent):
        start_study(fold)
    parent.refresh_from_db()


def run_walk_forward(parent: Study) -> None:
    """Run every fold's trials in this process, one fold after the other (`optimize --inline`)."""
    Study.objects.filter(pk=parent.pk, status=Study.Status.QUEUED).update(status=Study.Status.RUNNING)
    for fold in fold_studies(parent):
        if refresh_walk_forward(parent).finished:
            break  # an earlier fold failed, or the run was cancelled
        run_trials(fold)
    refresh_walk_forward(parent)


def cancel_walk_forward(parent: Study) -> bool:
    """Stop the run and every fold still queued or running; False if it had already ended."""
    for fold in fold_studies(parent):
        cancel_study(fold)
    live = [Study.Status.QUEUED, Study.Status.RUNNING]
    stopped = Study.objects.filter(pk=parent.pk, status__in=live).update(
        status=Study.Status.CANCELLED, finished_at=timezone.now()
    )
    parent.refresh_from_db()
    return bool(stopped)


# --- scoring a fold out of sample


def fold_finished(fold: Study) -> None:
    """A fold's study has just finished: score it out of sample, then finish the run if it was
    the last (called once, by the process that finished the fold)."""
    if score_or_fail(fold):
        refresh_walk_forward(fold.parent)


def score_or_fail(fold: Study) -> bool:
    """Score the fold; a scoring that raises fails the whole run, with the reason."""
    try:
        score_fold(fold)
    except Exception as exc:
        log.exception("walk-forward %s: scoring fold %s failed", fold.parent_id, fold.fold_index)
        fail_study(
            fold.parent, f"fold {fold.fold_index}: scoring out of sample failed: {type(exc).__name__}: {exc}"
        )
        return False
    return True


def lost_its_score(fold: Study) -> bool:
    """Done for SCORE_GRACE without a score: the worker that finished it was killed before scoring."""
    return (
        fold.status == Study.Status.DONE
        and "out_of_sample" not in (fold.result or {})
        and fold.finished_at < timezone.now() - SCORE_GRACE
    )


def chosen_values(fold: Study) -> dict[str, dict] | None:
    """The best trial's values per regime, as trials.overlay takes them (None: no trial had one)."""
    best = (fold.result or {}).get("best")
    return trials.by_regime(best["params"]) if best else None


def out_of_sample_view(fold: Study) -> Study:
    """The fold as a study over its out-of-sample range (not stored), for trials.load_study_data:
    the same symbols, base version, risk limits, fee, slippage and forced regime."""
    view = copy.copy(fold)
    view.start, view.end = fold.out_of_sample_start, fold.out_of_sample_end
    view.optuna_name = f"{fold.optuna_name}-oos"  # its own file of bars on this machine
    return view


def score_fold(fold: Study) -> dict:
    """Backtest the fold's best parameters on its out-of-sample range; store and return the score."""
    fold.refresh_from_db()
    values = chosen_values(fold)
    if values is None:
        # Stored in English; the page translates it (lab.wording).
        score = {
            "params": None,
            "reason": gettext_noop("no trial had a value in sample (see the n/a reasons)"),
        }
    else:
        data = trials.load_study_data(out_of_sample_view(fold))
        result = trials.backtest_result(data, trials.overlay(data.base, values, fold.symbols))
        score = {"params": fold.result["best"]["params"], "reason": ""} | equity_summary(result)
        stats = result.stats
        score["metrics"] = {name: stats.get(name) for name in OOS_FIGURES}
        score["objective"], score["objective_reason"] = objective_value(fold.objectives[0], stats)
    fold.result = (fold.result or {}) | {"out_of_sample": score}
    Study.objects.filter(pk=fold.pk).update(result=fold.result)
    return score


def equity_summary(result) -> dict:
    """The out-of-sample equity as multiples of the starting cash: the last mark of every hour (a
    chart; the last mark of each KST day is among them, for the Sharpe ratio, which 10 digits keep
    to 1e-5 of its value), the highest and lowest marks and the final one (to join the folds'
    drawdowns exactly)."""
    initial = float(result.options.initial_krw)
    ts = np.asarray(result.ts, dtype=np.int64)
    factor = np.asarray(result.equity, dtype=np.float64) / initial
    if not len(ts):
        return {"curve": [], "high": 1.0, "low": 1.0, "final": 1.0}
    hour = ts // 3600
    last = np.flatnonzero(np.append(hour[1:] != hour[:-1], True))
    return {
        "curve": [[int(ts[i]), round(float(factor[i]), 10)] for i in last],
        "high": float(factor.max()),
        "low": float(factor.min()),
        "final": float(factor[-1]),
    }


def refresh_walk_forward(parent: Study) -> Study:
    """Move the run's status from its folds': failed or cancelled with any fold, done once every
    fold is scored (the combined figures stored in its result). A fold that lost its score is
    scored here."""
    folds = fold_studies(parent)
    live = [Study.Status.QUEUED, Study.Status.RUNNING]
    for fold in filter(lost_its_score, folds):
        score_or_fail(fold)  # updates `fold` in the list
    ended = {f.status for f in folds if f.status in (Study.Status.FAILED, Study.Status.CANCELLED)}
    if Study.Status.FAILED in ended:
        bad = next(f for f in folds if f.status == Study.Status.FAILED)
        fail_study(parent, f"fold {bad.fold_index}: {bad.error}")
    elif ended:
        Study.objects.filter(pk=parent.pk, status__in=live).update(
            status=Study.Status.CANCELLED, finished_at=timezone.now()
        )
    elif all("out_of_sample" in (f.result or {}) for f in folds):
        combined = combine(folds)
        stored = {key: value for key, value in (combined or {}).items() if key != "curve"}
        Study.objects.filter(pk=parent.pk, status__in=live).update(
            status=Study.Status.DONE, finished_at=timezone.now(), result={"combined": stored or None}
        )
    parent.refresh_from_db()
    return parent


# --- the report


def combine(folds: list[Study]) -> dict | None:
    """The folds' out-of-sample parts as one history, each compounding from the end of the one
    before: the curve (multiples of the starting cash), return, max drawdown and Sharpe ratio
    (None when a fold chose no parameters: the history would have a hole)."""
    scores = [(f.result or {}).get("out_of_sample") for f in folds]
    if not folds or any(s is None or s["params"] is None for s in scores):
        return None
    scale, peak, drawdown, curve = 1.0, 0.0, 0.0, []
    for score in scores:
        drawdown = max(drawdown, score["metrics"]["max_drawdown_pct"])  # inside the fold
        if peak:  # a peak of an earlier fold, a low of this one
            drawdown = max(drawdown, (1 - scale * score["low"] / peak) * 100)
        peak = max(peak, scale * score["high"])
        curve += [[t, round(scale * v, 10)] for t, v in score["curve"]]
        scale *= score["final"]
    ts = np.array([t for t, _ in curve], dtype=np.int64)
    equity = np.array([v for _, v in curve], dtype=np.float64)
    start = int(folds[0].out_of_sample_start.timestamp())
    return {
        "start": iso(folds[0].out_of_sample_start),
        "end": iso(folds[-1].out_of_sample_end),
        "curve": [[start, 1.0], *curve],
        "total_return_pct": round((scale - 1) * 100, 4),
        "max_drawdown_pct": round(drawdown, 4),
        "sharpe": sharpe(daily_returns(ts, equity, 1.0)) if len(ts) else None,
        "trades": sum(s["metrics"]["trades"] for s in scores),
    }


def parameter_stability(folds: list[Study], space: dict[str, dict]) -> list[dict]:
    """Each tuned parameter's chosen value per fold and whether it held still: a number by how
    much of the searched range its values spread over, a choice by how often the same one won."""
    chosen = [((f.result or {}).get("out_of_sample") or {}).get("params") for f in folds]
    rows = []
    for key, spec in space.items():
        values = [p[key] for p in chosen if p and key in p]
        row = {"name": key, "values": [p.get(key) if p else None for p in chosen]}
        if not values:
            rows.append(row | {"verdict": "n/a", "text": f"{key}: no fold chose a value"})
            continue
        same = Counter(map(repr, values)).most_common(1)[0][1]
        if "choices" in spec:
            verdict = "stable" if same / len(values) >= STABLE_SHARE else "jumps around"
            extra, text = {}, f"{key}: the same value in {same} of {len(values)} folds"
        else:
            extra, verdict, text = number_stability(key, values, spec, same)
        rows.append(row | {"same_value": same, "verdict": verdict, "text": f"{text}: {verdict}"} | extra)
    return rows


def number_stability(key: str, values: list, spec: dict, same: int) -> tuple[dict, str, str]:
    """A number's spread over the searched range (its verdict) and coefficient of variation."""
    numbers = np.array(values, dtype=np.float64)
    spread = float(numbers.max() - numbers.min()) / float(spec["high"] - spec["low"])
    mean = float(numbers.mean())
    extra = {
        "cv": round(float(numbers.std(ddof=0)) / abs(mean), 4) if mean else None,
        "spread_of_range": round(spread, 4),
    }
    verdict = (
        "stable" if spread <= STABLE_SPREAD else "drifts" if spread <= DRIFTING_SPREAD else "jumps around"
    )
    low, high = f"{numbers.min():g}", f"{numbers.max():g}"
    if low == high:
        return extra, verdict, f"{key}: {low} in all {len(values)} folds"
    text = f"{key}: {low} to {high} over {len(values)} folds"
    if same > 1:
        text += f" (the same value in {same})"
    return extra, verdict, f"{text}, {spread:.0%} of the searched {spec['low']:g} to {spec['high']:g}"


def fold_row(fold: Study) -> dict:
    result = fold.result or {}
    best = result.get("best") or {}
    score = result.get("out_of_sample")
    return {
        "index": fold.fold_index,
        "study": fold.pk,
        "status": fold.status,
        "in_sample": {"start": iso(fold.start), "end": iso(fold.end)},
        "out_of_sample": {"start": iso(fold.out_of_sample_start), "end": iso(fold.out_of_sample_end)},
        "params": best.get("params"),
        "in_sample_objective": (best.get("values") or [None])[0],
        "in_sample_metrics": best.get("figures"),
        "out_of_sample_objective": score.get("objective") if score else None,
        "out_of_sample_objective_reason": score.get("objective_reason") or "" if score else "",
        "out_of_sample_metrics": score.get("metrics") if score else None,
        "scored": score is not None,
        "reason": score.get("reason", "") if score else "",
    }


def walk_forward_report(parent: Study) -> dict:
    """Everything the report shows, JSON-ready: per fold in- vs out-of-sample, the chosen
    parameters' stability, and the combined out-of-sample history (times in UTC ISO format)."""
    parent = refresh_walk_forward(parent)
    folds = fold_studies(parent)
    combined = combine(folds)
    return {
        "study": parent.pk,
        "status": parent.status,
        "error": parent.error,
        "folds_count": parent.walk_forward,
        "anchored": parent.anchored,
        "ratio": parent.ratio,
        "objective": parent.objectives[0],
        "folds": [fold_row(f) for f in folds],
        "parameters": parameter_stability(folds, parent.space),
        "combined": combined,
        "combined_missing": "" if combined else why_not_combined(folds),
    }


def why_not_combined(folds: list[Study]) -> str:
    scores = {f.fold_index: (f.result or {}).get("out_of_sample") for f in folds}
    empty = [str(i) for i, score in scores.items() if score and score["params"] is None]
    if empty:
        return gettext(
            "no combined history: fold(s) %(folds)s chose no parameters (no trial had a value)"
        ) % {"folds": ", ".join(empty)}
    waiting = [str(i) for i, score in scores.items() if not score]
    return gettext("no combined history yet: fold(s) %(folds)s not scored") % {"folds": ", ".join(waiting)}


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
