"""One trial: the study's candles (loaded once per machine) and the columns no tuned parameter
changes (computed once per process, trading.backtest.prepare), the trial's parameters laid over
the base version's, the very backtester of `manage.py backtest`, and the objective's value."""

import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import optuna
from django.conf import settings

from trading.backtest import (
    BacktestOptions,
    Prepared,
    load_bars,
    prepare,
    run_backtest,
    run_portfolio,
    volatility_history,
)
from trading.config import (
    RiskLimits,
    StrategyParams,
    default_risk,
    default_strategy,
    load_risk,
    load_strategy,
)
from trading.parameters import RegimeParams, validate_block
from trading.performance import daily_returns
from trading.strategy import BAR_FIELDS, Bars

from .inputs import UPBIT_FEE_PCT
from .models import Study
from .objectives import objective_value
from .space import Impossible, suggest

REPORTED = ("trades", "total_return_pct", "max_drawdown_pct", "sharpe", "profit_factor", "win_rate_pct")


@dataclass(frozen=True)
class StudyData:
    """What every trial of a study shares: candles, options, the base version, the risk limits,
    and each symbol's columns that no tuned parameter changes (computed once per study)."""

    bars: dict[str, Bars]
    options: BacktestOptions
    base: StrategyParams
    limits: RiskLimits
    prepared: dict[str, Prepared]


class TrialRefused(Exception):
    """The trial has no value (too few trades, a figure undefined, parameters that contradict
    each other): it is pruned, with the reason as the report shows it."""


_loaded: dict[int, StudyData] = {}  # study id -> its data, in this process


def study_data(study: Study) -> StudyData:
    """The study's candles and settings, loaded once per process (see market_of)."""
    if study.pk not in _loaded:
        _loaded.clear()  # one study at a time per process: a year of minutes and its columns ~80 MB a symbol
        _loaded[study.pk] = load_study_data(study)
    return _loaded[study.pk]


def base_params(study: Study) -> StrategyParams:
    """The version the trials start from: the one chosen or active when the study was created."""
    return load_strategy(study.base_config.version) if study.base_config_id else default_strategy()


def load_study_data(study: Study) -> StudyData:
    bars, first, volatility = market_of(study)
    options = BacktestOptions(
        slippage_bps=slippage_for(study),
        start=first,  # the same first decision for every symbol
        regime=study.force_regime or None,
        volatility=volatility,  # entries halved while the stored volatility state was high
    )
    limits = load_risk(study.risk_version) if study.risk_version else default_risk()
    base = base_params(study)
    prepared = {symbol: prepare(b, base) for symbol, b in bars.items()}
    return StudyData(bars, options, base, limits, prepared)


def market_of(study: Study) -> tuple[dict[str, Bars], int, tuple]:
    """The study's bars, first decision and volatility history: from this machine's file of the
    study when there is one (a worker runs each job in a fresh process), else from the database,
    then kept in that file. Every job on this machine then backtests the very same bars."""
    path = Path(settings.VAR_DIR) / "lab" / f"{study.optuna_name}.npz"
    if path.exists():
        with np.load(path) as saved:
            bars = {
                s: Bars(*(saved[f"{i}.{name}"] for name in BAR_FIELDS)) for i, s in enumerate(study.symbols)
            }
            volatility = tuple((int(t), bool(high)) for t, high in saved["volatility"])
            return bars, int(saved["first"]), volatility
    loaded = {symbol: load_bars(symbol, study.start, study.end) for symbol in study.symbols}
    bars = {symbol: b for symbol, (b, _) in loaded.items()}
    first = loaded[study.symbols[0]][1]
    volatility = volatility_history(study.start, study.end)
    columns = {
        f"{i}.{name}": getattr(bars[s], name) for i, s in enumerate(study.symbols) for name in BAR_FIELDS
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _forget_old_files(path.parent)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.npz")
    np.savez(partial, first=first, volatility=np.array(volatility, dtype=np.int64).reshape(-1, 2), **columns)
    os.replace(partial, path)  # whole or not at all, whichever job of this machine writes it
    return bars, first, volatility


def _forget_old_files(folder: Path, days: int = 3) -> None:
    cutoff = time.time() - days * 86400
    for old in folder.glob("*.npz"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def by_regime(params: dict) -> dict[str, dict]:
    """A trial's parameters ({"SIDEWAYS.rsi_14_max": 45}) per regime, as `overlay` takes them."""
    values: dict[str, dict] = {}
    for key, value in params.items():
        regime, name = key.split(".", 1)
        values.setdefault(regime, {})[name] = value
    return values


def overlay(base: StrategyParams, values: dict[str, dict], symbols: list[str]) -> StrategyParams:
    """The base version with the trial's values; refuses values that contradict each other."""
    regimes, problems = dict(base.regimes), []
    for regime, changed in values.items():
        block = base.regimes[regime].model_dump() | changed
        params, refusals = validate_block(RegimeParams, block)
        problems += [f"{regime}: {message}" for message in refusals]
        regimes[regime] = params
    if problems:
        raise TrialRefused("parameters contradict each other: " + "; ".join(problems))
    return StrategyParams(version=base.version, symbols=tuple(symbols), regimes=regimes)


def backtest_result(data: StudyData, params: StrategyParams):
    """One backtest: a portfolio from one account, or one symbol (its result, stats included)."""
    if len(data.bars) == 1:
        ((symbol, bars),) = data.bars.items()
        return run_backtest(symbol, bars, params, data.limits, data.options, data.prepared[symbol])
    return run_portfolio(data.bars, params, data.limits, data.options, data.prepared)


def daily_return_series(result) -> list[float]:
    """The equity curve's return per KST day (trading.performance), rounded to 1e-10 to keep the
    trial's stored attribute small; every trial of a study has the same days (the same bars)."""
    initial = float(result.options.initial_krw)
    if not len(result.ts):
        return []
    return [round(float(r), 10) for r in daily_returns(result.ts, result.equity, initial)]


def trade_returns(result) -> list[float]:
    """Each closed position's profit as a fraction of the equity when it was entered, in the order
    the positions closed (what lab.montecarlo resamples)."""
    initial = float(result.options.initial_krw)
    closed = sorted((t for t in result.trades if t.exit_at is not None), key=lambda t: t.exit_at)
    marks = np.searchsorted(result.ts, [t.entry_at for t in closed], side="right") - 1
    returns = []
    for trade, mark in zip(closed, marks, strict=True):
        equity = float(result.equity[mark]) if mark >= 0 else initial
        returns.append(round(float(trade.pnl) / equity, 10))
    return returns


def evaluate(study: Study, trial: optuna.Trial) -> list[float]:
    """The trial's objective values; raises TrialRefused when it has none."""
    try:  # first: the values are stored with the trial even if its worker dies while loading
        values = suggest(trial, study.space, base_params(study))
    except Impossible as exc:
        raise TrialRefused(f"parameters contradict each other: {exc}") from exc
    data = study_data(study)
    params = overlay(data.base, values, study.symbols)
    result = backtest_result(data, params)
    stats = result.stats
    trial.set_user_attr("figures", {name: stats[name] for name in REPORTED})  # one write, not six
    trial.set_user_attr("daily_returns", daily_return_series(result))  # PBO and DSR (lab.report)
    if stats["trades"] < study.min_trades:
        raise TrialRefused(f"n/a: only {stats['trades']} trades (at least {study.min_trades} needed)")
    values = []
    for name in study.objectives:
        value, why = objective_value(name, stats)
        if value is None:
            raise TrialRefused(why)
        values.append(value)
    return values


def slippage_for(study: Study) -> Decimal:
    """The slippage every fill of the study pays (bps): a fee above Upbit's, which every simulated
    fill already pays, is charged as slippage (x % off each fill's price costs what x % fee does)."""
    return study.slippage_bps + (study.fee_pct - UPBIT_FEE_PCT) * 100
