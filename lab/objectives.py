"""What a study optimises: a figure of the backtest report, and whether more or less is better."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Objective:
    name: str
    label: str
    direction: str  # "maximize" or "minimize"
    key: str  # the figure in trading.performance.summarize, or "return_over_drawdown"


OBJECTIVES = {
    o.name: o
    for o in (
        Objective("sharpe", "Sharpe ratio", "maximize", "sharpe"),
        Objective("sortino", "Sortino ratio", "maximize", "sortino"),
        Objective("calmar", "Calmar ratio", "maximize", "calmar"),
        Objective("profit_factor", "profit factor", "maximize", "profit_factor"),
        Objective("return_over_drawdown", "return / max drawdown", "maximize", "return_over_drawdown"),
        Objective("total_return", "total return (%)", "maximize", "total_return_pct"),
        Objective("max_drawdown", "max drawdown (%)", "minimize", "max_drawdown_pct"),
    )
}
# Why a figure may be missing, as the report says it.
UNDEFINED = {
    "sharpe": "Sharpe needs at least two days with some variation",
    "sortino": "Sortino needs at least two days and a losing day",
    "calmar": "Calmar needs a drawdown and a span long enough to annualise",
    "profit_factor": "profit factor needs a losing trade",
    "return_over_drawdown": "return / max drawdown needs a drawdown",
}


def objective_value(name: str, stats: dict) -> tuple[float | None, str]:
    """(the objective's value, "") or (None, why it is n/a) from a backtest's stats."""
    objective = OBJECTIVES[name]
    if objective.key == "return_over_drawdown":
        mdd = stats["max_drawdown_pct"]
        value = stats["total_return_pct"] / mdd if mdd > 0 else None
    else:
        value = stats.get(objective.key)
    if value is None:
        return None, f"n/a: {UNDEFINED.get(name, objective.label + ' is undefined')}"
    return float(value), ""
