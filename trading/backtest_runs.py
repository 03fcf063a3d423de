"""Backtests started from the dashboard: validated requests run as background jobs.

A run is an rq job on the `default` queue: progress lives in `job.meta`, the report is the job's
result (kept for a day), and the newest run ids are listed in Redis for the page.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import django_rq
from django.utils import timezone
from rq import get_current_job
from rq.job import Job, JobStatus

from core.bounds import EARLIEST_DAY, LATEST_DAY, BoundsError, parse_day
from core.redis_conn import get_redis

from .backtest import BacktestOptions, load_bars, run_backtest
from .backtest_report import report_data
from .config import SYMBOL_RE, ConfigError, load_risk, load_strategy

RUNS_KEY = "backtest:runs"
MAX_DAYS = 400
RESULT_TTL = 86400


@dataclass(frozen=True)
class BacktestRequest:
    symbol: str
    start: datetime
    end: datetime
    config_version: int | None = None


def parse_form(data) -> tuple[BacktestRequest | None, list[str]]:
    """A request from the form, or the reasons it is refused (in words a trader reads)."""
    errors = []
    symbol = data.get("symbol", "").strip().upper()
    if not SYMBOL_RE.match(symbol):
        errors.append(f"symbol {symbol!r} is not a KRW market like KRW-BTC")
    days = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(data.get(name, ""))  # never year 1: the warm-up before it overflows
        except BoundsError:
            errors.append(f"'{name}' must be a date (YYYY-MM-DD) between {EARLIEST_DAY} and {LATEST_DAY}")
    version = data.get("config", "").strip()
    if version and not version.isdigit():
        errors.append("config version must be a number")
    if len(days) == 2:
        if days["to"] <= days["from"]:
            errors.append("'to' must be after 'from'")
        elif (days["to"] - days["from"]).days > MAX_DAYS:
            errors.append(f"at most {MAX_DAYS} days per run")
    if errors:
        return None, errors
    start, end = (timezone.make_aware(datetime.combine(days[k], time())) for k in ("from", "to"))  # KST days
    try:
        load_strategy(int(version) if version else None)
    except ConfigError as exc:
        return None, exc.messages
    return BacktestRequest(symbol, start, end, int(version) if version else None), []


def start_run(req: BacktestRequest) -> str:
    """Queue the backtest; return the run id."""
    job = django_rq.get_queue("default", commit_mode="auto").enqueue(
        execute,
        req.symbol,
        req.start.isoformat(),
        req.end.isoformat(),
        req.config_version,
        job_timeout=600,
        result_ttl=RESULT_TTL,
        failure_ttl=RESULT_TTL,
        description=f"backtest {req.symbol} {req.start:%Y-%m-%d}..{req.end:%Y-%m-%d}",
    )
    pipe = get_redis().pipeline()
    pipe.lpush(RUNS_KEY, job.id)
    pipe.ltrim(RUNS_KEY, 0, 19)
    pipe.execute()
    return job.id


def execute(symbol: str, start_iso: str, end_iso: str, config_version: int | None) -> dict:
    """The job: load candles, run the very backtester the command uses, return the report data."""
    _progress("loading candles", 10)
    start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
    bars, first = load_bars(symbol, start, end)
    if len(bars) < 2:
        raise ValueError(f"no candles stored for {symbol} between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    _progress(f"running over {len(bars):,} bars", 50)
    result = run_backtest(
        symbol, bars, load_strategy(config_version), load_risk(), BacktestOptions(start=first)
    )
    _progress("building the report", 90)
    return report_data(result)


def _progress(stage: str, pct: int) -> None:
    job = get_current_job()
    if job is not None:
        job.meta.update({"stage": stage, "pct": pct})
        job.save_meta()


def run_status(run_id: str) -> dict | None:
    """Status, progress and (when finished) the report of one run; None if unknown or expired."""
    job = Job.fetch(run_id, connection=get_redis()) if _exists(run_id) else None
    if job is None:
        return None
    status = job.get_status()
    body = {
        "id": run_id,
        "status": JobStatus(status).value,
        "description": job.description,
        "stage": job.meta.get("stage", "queued"),
        "pct": job.meta.get("pct", 0),
    }
    if status == JobStatus.FINISHED:
        body |= {"pct": 100, "stage": "done", "report": job.return_value()}
    elif status == JobStatus.FAILED:
        result = job.latest_result()
        body["error"] = (result.exc_string or "").strip().splitlines()[-1] if result else "failed"
    return body


def recent_runs() -> list[dict]:
    ids = [raw.decode() for raw in get_redis().lrange(RUNS_KEY, 0, -1)]
    rows = []
    for run_id in ids:
        status = run_status(run_id)
        if status:
            rows.append({k: status[k] for k in ("id", "status", "description", "stage")})
    return rows


def _exists(run_id: str) -> bool:
    return bool(run_id) and len(run_id) <= 64 and get_redis().exists(Job.key_for(run_id)) == 1


def default_form(now: datetime) -> dict:
    today = timezone.localtime(now).date()
    return {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
