"""What the Lab page shows of an ended study: Optuna's figures, the overfitting statistics (PBO
over every completed trial's daily returns, the chosen trial's Deflated Sharpe), Monte Carlo bands
of the chosen trial's trades, and the parameters promoting it would store.

Built once when the study has ended (no trial running) and kept in `Study.result["report"]`.
The statistics and their sentences are explained in docs/lab.md.
"""

import json
import warnings
from collections.abc import Callable

import numpy as np
import optuna
from django.utils.translation import gettext_noop
from optuna.trial import FrozenTrial, TrialState

from . import trials
from .models import Study
from .montecarlo import BOOTSTRAP_EXPLAINED, SHUFFLE_EXPLAINED, monte_carlo
from .objectives import OBJECTIVES
from .overfitting import (
    DEGRADATION_EXPLAINED,
    DSR_EXPLAINED,
    LOSS_EXPLAINED,
    PBO_EXPLAINED,
    NotApplicable,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)
from .storage import quiet
from .study import COUNTED, load_optuna_study, trial_params, trial_row

FEW_DAYS = 64  # below this many days PBO uses 8 blocks (70 splits) rather than 16 (docs/lab.md)


def study_report(study: Study) -> dict | None:
    """The ended study's report, built on first use and kept; None while it runs."""
    if not study.finished:
        return None
    if study.result.get("report"):
        return study.result["report"]
    report = build_report(study)
    if not report["running"]:  # a cancelled study's last trial may still be told: build again then
        study.result = study.result | {"report": report}
        Study.objects.filter(pk=study.pk).update(result=study.result)
    return report


def build_report(study: Study) -> dict:
    opt = load_optuna_study(study)
    all_trials = opt.get_trials(deepcopy=False)
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    running = any(t.state == TrialState.RUNNING for t in all_trials)
    if not complete:
        none = {"na": gettext_noop("n/a: no trial has a value (see the pruned trials' reasons)")}
        return {"running": running, "chosen": None, "figures": {}, "overfitting": {"pbo": none, "dsr": none},
                "dsr_by_trial": {}, "monte_carlo": none, "candidate": None}  # fmt: skip
    chosen = chosen_trial(study, opt)
    tried = sum(t.state in COUNTED for t in all_trials)  # pruned trials were chances to find noise too
    candidates = opt.best_trials if study.multi_objective else [chosen]
    pbo, dsr_of = overfitting(complete, tried)
    return {
        "running": running,
        "chosen": trial_row(chosen),
        "figures": figures(study, opt),
        "overfitting": {"pbo": pbo, "dsr": dsr_of(chosen)},
        "dsr_by_trial": {str(t.number): dsr_of(t) for t in candidates},
        "monte_carlo": trade_bands(study, chosen),
        "candidate": trial_params(study, chosen),
    }


def chosen_trial(study: Study, opt: optuna.Study) -> FrozenTrial:
    """The best trial; with two objectives, the one of the Pareto front best on the first."""
    if not study.multi_objective:
        return opt.best_trial
    sign = -1 if study.directions[0] == "maximize" else 1
    return min(opt.best_trials, key=lambda t: (sign * t.values[0], t.number))


# --- Optuna's figures


def figures(study: Study, opt: optuna.Study) -> dict[str, dict]:
    """Plotly figures as JSON-ready dicts (or {"na": why}): optimisation history, parameter
    importances, parallel coordinates, and the Pareto front of two objectives."""
    labels = [OBJECTIVES[name].label for name in study.objectives]
    first = {"target_name": labels[0]}
    lower_first = dict(first)
    if study.multi_objective:
        first["target"] = lambda t: t.values[0]
        # Optuna's importance evaluator rates parameters for reaching low targets
        sign = -1 if study.directions[0] == "maximize" else 1
        lower_first["target"] = lambda t: sign * t.values[0]
    vis = optuna.visualization
    plots: dict[str, Callable] = {
        "history": lambda: vis.plot_optimization_history(opt, **first),
        "importances": lambda: vis.plot_param_importances(opt, **lower_first),
        "parallel": lambda: vis.plot_parallel_coordinate(opt, **first),
    }
    if study.multi_objective:
        plots["pareto"] = lambda: vis.plot_pareto_front(opt, target_names=labels)
    return {name: _figure(plot) for name, plot in plots.items()}


def _figure(plot: Callable) -> dict:
    try:
        with quiet(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")  # see above
            figure = json.loads(plot().to_json())
        figure["layout"].pop("template", None)  # plotly's theme: 10 kB a figure; the page sets its own
        return figure
    except (ValueError, RuntimeError) as exc:  # e.g. importances of a single completed trial
        return {"na": f"n/a: {exc}"}


# --- overfitting statistics over the trials' daily returns


def overfitting(complete: list[FrozenTrial], tried: int) -> tuple[dict, Callable[[FrozenTrial], dict]]:
    """PBO of the completed trials' daily returns, and a function giving a trial's DSR."""
    series = {t.number: t.user_attrs.get("daily_returns") for t in complete}
    if any(s is None for s in series.values()):
        why = {
            "na": gettext_noop(
                "n/a: this study's trials kept no daily returns (run before the Lab stored them)"
            )
        }
        return why, lambda trial: why
    if len({len(s) for s in series.values()}) != 1:
        why = {"na": gettext_noop("n/a: the trials' daily returns cover different days")}
        return why, lambda trial: why
    matrix = np.array(list(series.values()), dtype=np.float64).T  # days x trials
    pbo = _statistic(lambda: pbo_figures(matrix))
    sharpes = [_sharpe_or_nan(column) for column in matrix.T]

    def dsr_of(trial: FrozenTrial) -> dict:
        return _statistic(lambda: dsr_figures(np.array(series[trial.number]), sharpes, tried))

    return pbo, dsr_of


def pbo_figures(matrix: np.ndarray) -> dict:
    days = matrix.shape[0]
    result = probability_of_backtest_overfitting(matrix, blocks=16 if days >= FEW_DAYS else 8)
    return {
        "value": result.pbo,
        "explained": PBO_EXPLAINED,
        "blocks": result.blocks,
        "days": result.periods,
        "trials": result.trials,
        "probability_of_loss": result.probability_of_loss,
        "loss_explained": LOSS_EXPLAINED,
        "degradation_slope": result.degradation_slope,
        "degradation_explained": DEGRADATION_EXPLAINED,
    }


def dsr_figures(returns: np.ndarray, sharpes: list[float], tried: int) -> dict:
    result = deflated_sharpe_ratio(returns, np.array(sharpes), trials=max(tried, len(sharpes)))
    return {
        "value": result.dsr,
        "explained": DSR_EXPLAINED,
        "significant": result.significant,
        "sharpe": result.sharpe,
        "expected_max_sharpe": result.expected_max_sharpe,
        "trials": result.trials,
        "days": result.periods,
    }


def _sharpe_or_nan(returns: np.ndarray) -> float:
    try:
        return sharpe_ratio(returns)
    except NotApplicable:
        return float("nan")  # left out of the trials' variance by deflated_sharpe_ratio


def _statistic(compute: Callable[[], dict]) -> dict:
    try:
        return compute() | {"na": None}
    except NotApplicable as exc:
        return {"na": str(exc)}


# --- Monte Carlo of the chosen trial's trades


def trade_bands(study: Study, trial: FrozenTrial) -> dict:
    """The chosen trial backtested once more for its trades; their shuffled and bootstrapped
    5/50/95 % bands of the final return and the maximum drawdown."""
    data = trials.load_study_data(study)  # not kept in the web process (trials.study_data would)
    result = trials.backtest_result(
        data, trials.overlay(data.base, trials.by_regime(trial.params), study.symbols)
    )
    returns = trials.trade_returns(result)
    try:
        mc = monte_carlo(returns, seed=study.seed)
    except NotApplicable as exc:
        return {"na": str(exc), "trades": len(returns)}
    return {
        "na": None,
        "trades": mc.trades,
        "runs": mc.runs,
        "final_return_pct": mc.final_return_pct,
        "max_drawdown_pct": mc.max_drawdown_pct,
        "shuffle": _bands(mc.shuffle) | {"explained": SHUFFLE_EXPLAINED},
        "bootstrap": _bands(mc.bootstrap) | {"explained": BOOTSTRAP_EXPLAINED},
    }


def _bands(simulation) -> dict:
    return {
        "final_return_pct": [simulation.final_return_pct.p5, simulation.final_return_pct.p50,
                             simulation.final_return_pct.p95],
        "max_drawdown_pct": [simulation.max_drawdown_pct.p5, simulation.max_drawdown_pct.p50,
                             simulation.max_drawdown_pct.p95],
    }  # fmt: skip
