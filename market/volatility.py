"""GARCH(1,1) volatility state of the bellwether symbol.

Returns are fitted in basis points: x100 leaves 1-minute variance far below what arch's
optimiser handles and it then returns its starting values as if converged (docs/decisions.md).
Any warning, a non-zero convergence flag or alpha + beta >= 0.999 (no finite
long-run variance) is a failed fit: the last good state stays and the reason is logged.

The state lives in the database (one VolatilityFit row per good fit, the newest is the state);
Redis holds a copy for the cycle's one read, refilled from the table after a flush.
"""

import json
import logging
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np

from core.redis_conn import get_redis

from .models import Candle, VolatilityFit

log = logging.getLogger(__name__)

STATE_KEY = "coinpilot:volatility_state"
STATE_CACHE_TTL = 3600  # a fit is daily; the cache is refilled from the table when it expires
RETURNS = 1000
BPS = 1e4
MAX_PERSISTENCE = 0.999


class FitFailed(Exception):
    """The GARCH fit is not trustworthy; the message says why."""


@dataclass(frozen=True)
class VolatilityState:
    """Forecast and long-run 1-minute volatility (fractions of price) and the verdict."""

    current_volatility: float
    long_run_volatility: float
    is_high_volatility: bool
    alpha: float
    beta: float
    timestamp: str


def log_returns(close: np.ndarray) -> np.ndarray:
    """1-minute log returns of consecutive closes."""
    return np.diff(np.log(np.asarray(close, dtype=np.float64)))


def fit_garch(returns: np.ndarray, *, high_ratio: float, now: datetime) -> VolatilityState:
    """Fit GARCH(1,1) on raw log returns; raise FitFailed instead of returning a doubtful state."""
    y = np.asarray(returns, dtype=np.float64) * BPS
    if len(y) < 100 or not np.isfinite(y).all() or np.std(y) == 0:
        raise FitFailed(f"need at least 100 finite, non-constant returns (got {len(y)})")
    from arch import arch_model  # seconds to import: only where a fit runs (workers preload it)

    model = arch_model(y, mean="Zero", vol="GARCH", p=1, q=1, dist="normal")  # warns on bad scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DataScaleWarning, ConvergenceWarning, ... = failure
        try:
            res = model.fit(disp="off")
        except Exception as exc:  # noqa: BLE001 - any failure of the optimiser is reported as one
            raise FitFailed(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if res.convergence_flag != 0:
        raise FitFailed(f"optimiser did not converge (flag {res.convergence_flag})")
    omega, alpha, beta = (float(res.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
    if np.allclose(res.params.to_numpy(), model.volatility.starting_values(y), rtol=1e-6):
        raise FitFailed("the optimiser returned its starting values (an unfitted model)")
    if alpha + beta >= MAX_PERSISTENCE:
        raise FitFailed(f"alpha + beta = {alpha + beta:.4f} >= {MAX_PERSISTENCE}: no stable long-run level")
    forecast_var = float(res.forecast(horizon=1, reindex=False).variance.iloc[-1, 0])
    current = np.sqrt(forecast_var) / BPS
    long_run = np.sqrt(omega / (1 - alpha - beta)) / BPS
    return VolatilityState(
        current_volatility=float(current),
        long_run_volatility=float(long_run),
        is_high_volatility=bool(current > high_ratio * long_run),
        alpha=alpha,
        beta=beta,
        timestamp=now.isoformat(),
    )


def recent_closes(symbol: str, count: int = RETURNS + 1) -> np.ndarray:
    """The newest `count` 1m closes of `symbol`, oldest first."""
    rows = Candle.objects.filter(symbol=symbol, interval="1m").order_by("-timestamp")
    return np.array([float(c) for c in rows.values_list("close", flat=True)[:count]][::-1])


def read_state() -> dict | None:
    """The newest good fit (what the risk manager reads), or None before the first one."""
    conn = get_redis()
    raw = conn.get(STATE_KEY)
    if raw:
        return json.loads(raw)
    row = VolatilityFit.objects.order_by("-fitted_at").first()
    if row is None:
        return None
    state = asdict(_state_of(row))
    conn.set(STATE_KEY, json.dumps(state), ex=STATE_CACHE_TTL)
    return state


def _state_of(row: VolatilityFit) -> VolatilityState:
    return VolatilityState(
        current_volatility=row.current_volatility,
        long_run_volatility=row.long_run_volatility,
        is_high_volatility=row.is_high_volatility,
        alpha=row.alpha,
        beta=row.beta,
        timestamp=row.fitted_at.isoformat(),
    )


def store_state(symbol: str, state: VolatilityState) -> None:
    """The database first (the authority), then the cache."""
    VolatilityFit.objects.create(
        symbol=symbol,
        fitted_at=datetime.fromisoformat(state.timestamp),
        current_volatility=state.current_volatility,
        long_run_volatility=state.long_run_volatility,
        is_high_volatility=state.is_high_volatility,
        alpha=state.alpha,
        beta=state.beta,
    )
    get_redis().set(STATE_KEY, json.dumps(asdict(state)), ex=STATE_CACHE_TTL)


def retrain(symbol: str, *, high_ratio: float, now: datetime) -> str:
    """Fit on the latest returns and store the state; on failure keep the last one and say why."""
    closes = recent_closes(symbol)
    try:
        state = fit_garch(log_returns(closes), high_ratio=high_ratio, now=now)
    except FitFailed as exc:
        log.warning("volatility fit for %s failed, keeping the last state: %s", symbol, exc)
        return f"fit failed ({exc}); kept the last state"
    store_state(symbol, state)
    verdict = "HIGH" if state.is_high_volatility else "normal"
    return f"{symbol}: sigma {state.current_volatility * 100:.4f}%/min ({verdict})"
