"""Backtests started from the dashboard: validated requests run as background jobs.

A run is an rq job on the `default` queue: progress lives in `job.meta`, the report is the job's
result (kept for a day), and the newest run ids are listed in Redis for the page. A run covers one
symbol or a portfolio (several symbols traded from one account, `run_portfolio`).
"""

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import django_rq
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.serializers import DefaultSerializer

from core import formatting
from core.bounds import EARLIEST_DAY, LATEST_DAY, BoundsError, parse_day
from core.caching import cached
from core.kst import kst_text
from core.redis_conn import get_redis
from market import listing
from market.models import Candle

from .backtest import BacktestOptions, load_bars, run_backtest, run_portfolio, volatility_history
from .backtest_report import portfolio_report_data, report_data
from .config import SYMBOL_RE, ConfigError, load_risk, load_strategy
from .strategy import Bars

RUNS_KEY = "backtest:runs"
MAX_DAYS = 400
MAX_SYMBOLS = 20  # a portfolio run loads every symbol's minutes: 20 x 400 days fits the job's time
RESULT_TTL = 86400
SEPARATORS = re.compile(r"[\s,]+")

# A run's stage is kept in job.meta as a code and its figures, and worded when shown, in the
# reader's language (not the language of whoever started the run).
STAGES = {
    "queued": gettext_lazy("queued"),
    "loading": gettext_lazy("loading candles"),
    "running": gettext_lazy("running over %(bars)s bars"),
    "running_portfolio": gettext_lazy("running %(markets)s markets over %(bars)s bars"),
    "reporting": gettext_lazy("building the report"),
    "done": pgettext_lazy("backtest stage", "done"),
}
STATUSES = {  # rq's job statuses as the page names them
    "queued": pgettext_lazy("backtest status", "queued"),
    "started": pgettext_lazy("backtest status", "running"),
    "deferred": pgettext_lazy("backtest status", "waiting"),
    "scheduled": pgettext_lazy("backtest status", "scheduled"),
    "finished": pgettext_lazy("backtest status", "finished"),
    "failed": pgettext_lazy("backtest status", "failed"),
    "stopped": pgettext_lazy("backtest status", "stopped"),
    "canceled": pgettext_lazy("backtest status", "canceled"),
}


@dataclass(frozen=True)
class BacktestRequest:
    symbol: str
    start: datetime
    end: datetime
    config_version: int | None = None
    symbols: tuple[str, ...] = ()  # a portfolio run: these symbols from one account, in this order

    @property
    def portfolio(self) -> bool:
        return bool(self.symbols)


def parse_symbols(text: str) -> tuple[list[str], list[str]]:
    """The symbols of a portfolio run from a comma- or space-separated list, in the order given
    (the order the live cycle visits them in), or every reason the list is refused."""
    names = [listing.normalise(name) for name in SEPARATORS.split(text or "") if name.strip()]
    if not names:
        return [], [_("name the markets of the portfolio, e.g. KRW-BTC, KRW-ETH")]
    if len(names) > MAX_SYMBOLS:  # one message, not one per name of a pasted list
        message = ngettext(
            "at most %(most)s market per portfolio run, not %(count)s",
            "at most %(most)s markets per portfolio run, not %(count)s",
            MAX_SYMBOLS,
        )
        return [], [message % {"most": MAX_SYMBOLS, "count": formatting.number(len(names))}]
    errors = [_shorten(message) for message in listing.format_errors(names)]
    twice = sorted({name for name in names if names.count(name) > 1})
    errors += [_("%(symbol)s is listed twice: name each market once") % {"symbol": name} for name in twice]
    return ([] if errors else names), errors


def _shorten(message: str, limit: int = 160) -> str:
    """A message quoting what was typed, cut short when a pasted name is very long."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def parse_form(data) -> tuple[BacktestRequest | None, list[str]]:
    """A request from the form, or every reason it is refused at once (in words a trader reads).

    `mode=portfolio` runs the comma-separated `symbols` from one account; otherwise `symbol`."""
    errors, symbol, symbols = [], "", []
    if data.get("mode") == "portfolio":
        symbols, errors = parse_symbols(data.get("symbols", ""))
    else:
        symbol = data.get("symbol", "").strip().upper()
        if not SYMBOL_RE.match(symbol):
            errors.append(
                _("symbol '%(symbol)s' is not a KRW market like KRW-BTC") % {"symbol": _shorten(symbol)}
            )
    days = {}
    bad_day = {
        # Translators: 'from' is the form's "From (KST)" field.
        "from": _("'from' must be a date (YYYY-MM-DD) between %(earliest)s and %(latest)s"),
        # Translators: 'to' is the form's "To (KST, included)" field.
        "to": _("'to' must be a date (YYYY-MM-DD) between %(earliest)s and %(latest)s"),
    }
    for name in ("from", "to"):
        try:
            days[name] = parse_day(data.get(name, ""))  # never year 1: the warm-up before it overflows
        except BoundsError:
            errors.append(bad_day[name] % {"earliest": EARLIEST_DAY, "latest": LATEST_DAY})
    version = data.get("config", "").strip()
    if version and not version.isdigit():
        errors.append(_("the strategy version must be a number"))
    else:  # checked with the rest, so every problem is shown at once
        try:
            load_strategy(int(version) if version else None)
        except ConfigError as exc:
            errors += exc.messages
    if len(days) == 2:
        if days["to"] < days["from"]:
            errors.append(_("'to' must not be before 'from'"))
        elif (days["to"] - days["from"]).days + 1 > MAX_DAYS:
            errors.append(_("at most %(days)s days per run") % {"days": formatting.number(MAX_DAYS)})
    if errors:
        return None, errors
    # KST days, both included as people read "from 11-01 to 11-30": the run ends at the midnight after 'to'
    start = timezone.make_aware(datetime.combine(days["from"], time()))
    end = timezone.make_aware(datetime.combine(days["to"] + timedelta(days=1), time()))
    number = int(version) if version else None
    return BacktestRequest(symbol or symbols[0], start, end, number, tuple(symbols)), []


def start_run(req: BacktestRequest) -> str:
    """Queue the backtest; return the run id."""
    days = f"{req.start:%Y-%m-%d}..{req.end - timedelta(days=1):%Y-%m-%d}"  # the last day included
    if req.portfolio:
        func, what = execute_portfolio, list(req.symbols)
        description = f"portfolio backtest {', '.join(req.symbols)} {days}"  # rq's own pages: English
    else:
        func, what, description = execute, req.symbol, f"backtest {req.symbol} {days}"
    job = django_rq.get_queue("default", commit_mode="auto").enqueue(
        func,
        what,
        req.start.isoformat(),
        req.end.isoformat(),
        req.config_version,
        translation.get_language(),  # the report's text in the language of who asked for it
        job_timeout=600,
        result_ttl=RESULT_TTL,
        failure_ttl=RESULT_TTL,
        description=description,
        meta={
            "mode": "portfolio" if req.portfolio else "single",
            "symbols": ", ".join(req.symbols or (req.symbol,)),
            "days": days,
        },
    )
    pipe = get_redis().pipeline()
    pipe.lpush(RUNS_KEY, job.id)
    pipe.ltrim(RUNS_KEY, 0, 19)
    pipe.execute()
    return job.id


def execute(
    symbol: str, start_iso: str, end_iso: str, config_version: int | None, language: str | None = None
) -> dict:
    """The job: load candles, run the very backtester the command uses, return the report data
    (its text in `language`, the default language without one)."""
    with translation.override(language or translation.get_language()):
        _progress("loading", 10)
        start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
        bars, options = _load([symbol], start, end)
        _progress("running", 50, bars=len(bars[symbol]))
        result = run_backtest(symbol, bars[symbol], load_strategy(config_version), load_risk(), options)
        _progress("reporting", 90)
        return report_data(result)


def execute_portfolio(
    symbols: list[str], start_iso: str, end_iso: str, config_version: int | None, language: str | None = None
) -> dict:
    """The job of a portfolio run: every symbol from one account, with every risk rule."""
    with translation.override(language or translation.get_language()):
        _progress("loading", 10)
        start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
        bars, options = _load(symbols, start, end)
        _progress("running_portfolio", 50, markets=len(symbols), bars=sum(len(b) for b in bars.values()))
        result = run_portfolio(bars, load_strategy(config_version), load_risk(), options)
        _progress("reporting", 90)
        return portfolio_report_data(result)


def _load(symbols: list[str], start: datetime, end: datetime) -> tuple[dict, BacktestOptions]:
    """Stored candles of every symbol and the run's options; the stored volatility fits make the
    high-volatility halving apply as it did live."""
    loaded = {symbol: load_bars(symbol, start, end) for symbol in symbols}
    missing = without_candles(loaded)
    if missing:
        raise ValueError(  # shown on the run's page
            _("no candles stored for %(symbols)s from %(start)s to %(end)s")
            % {
                "symbols": ", ".join(missing),
                "start": f"{start:%Y-%m-%d}",
                "end": f"{end - timedelta(minutes=1):%Y-%m-%d}",  # both days included, as the form reads them
            }
        )
    first = loaded[symbols[0]][1]  # the same start for every symbol
    options = BacktestOptions(start=first, volatility=volatility_history(start, end))
    return {symbol: bars for symbol, (bars, _) in loaded.items()}, options


def without_candles(loaded: dict[str, tuple[Bars, int | None]]) -> list[str]:
    """The symbols with fewer than two bars from the first decision on: bars of the warm-up alone
    would run the symbol without a single decision (and no bars at all cannot be run)."""
    return [
        symbol
        for symbol, (bars, first) in loaded.items()
        if (len(bars) if first is None else int((bars.ts >= first).sum())) < 2
    ]


def _progress(stage: str, pct: int, **figures: int) -> None:
    """Record the stage (a STAGES code and its figures) and the percentage done."""
    job = get_current_job()
    if job is not None:
        job.meta.update({"stage": stage, "stage_figures": figures, "pct": pct})
        job.save_meta()


def stage_text(stage: str, figures: dict | None = None) -> str:
    """A stage code in words ("running over 1,440 bars"); a stage of an older run as it was stored."""
    if stage not in STAGES:
        return stage
    return str(STAGES[stage]) % {name: formatting.number(value) for name, value in (figures or {}).items()}


class RunHash(NamedTuple):
    """What the pages show of a run: its id and three fields of its job's hash. Fetching and
    restoring 20 whole Jobs cost the Backtest list 2.4 ms of CPU; reading these, 0.4 ms."""

    id: str
    status: str
    meta: dict
    description: str

    @classmethod
    def of(cls, job: Job) -> "RunHash":
        return cls(job.id, JobStatus(job.get_status(refresh=False)).value, job.meta, job.description or "")

    @classmethod
    def read(cls, run_id: str, status: bytes, meta: bytes | None, description: bytes | None) -> "RunHash":
        """From the raw hash fields, decoded as rq decodes them (its default serializer)."""
        return cls(
            run_id,
            JobStatus(status.decode()).value,
            DefaultSerializer.loads(meta) if meta else {},
            description.decode() if description else "",
        )


def run_title(run: RunHash) -> str:
    """What a run is, in the reader's language ("backtest KRW-BTC 2030-01-01..2030-01-03")."""
    meta = run.meta
    if "symbols" not in meta:  # a run queued before the titles were worded here
        return run.description
    if meta.get("mode") == "portfolio":
        text = _("portfolio backtest %(symbols)s %(days)s")
    else:
        text = _("backtest %(symbols)s %(days)s")
    return text % {"symbols": meta["symbols"], "days": meta["days"]}


def run_status(run_id: str, report: bool = True) -> dict | None:
    """Status, progress and (when finished) the report of one run; None if unknown or expired.
    `report=False` leaves out the report and a failure's error, which are read from the job's
    result (a year's report is about a megabyte): what the run's page and the list show."""
    job = _fetch(run_id)
    if job is None:
        return None
    row = _run_row(RunHash.of(job))
    return _with_result(job, row) if report else row


def run_json(run_id: str) -> bytes | None:
    """`run_status(run_id)` as JSON; a finished run's is made once per language across processes
    (a year's report took 14 ms of CPU to read and encode, on every view of the run's page)."""
    job = _fetch(run_id)
    if job is None:
        return None
    row = _run_row(RunHash.of(job))

    def encode() -> bytes:
        return json.dumps(_with_result(job, row), cls=DjangoJSONEncoder).encode()

    if row["status"] != JobStatus.FINISHED:
        return encode()
    return cached(f"backtest-run:{run_id}", encode, seconds=600)


def _fetch(run_id: str) -> Job | None:
    return Job.fetch(run_id, connection=get_redis()) if _exists(run_id) else None


def _with_result(job: Job, row: dict) -> dict:
    """`row` with a finished run's report or a failed run's error, read from the job's result."""
    if row["status"] == JobStatus.FINISHED:
        return row | {"report": job.return_value()}
    if row["status"] == JobStatus.FAILED:
        result = job.latest_result()
        return row | {
            "error": (result.exc_string or "").strip().splitlines()[-1] if result else _("the run failed")
        }
    return row


def _run_row(run: RunHash) -> dict:
    """What the job's own hash says about the run (as fetched: no further round trip)."""
    body = {
        "id": run.id,
        "status": run.status,
        "status_label": str(STATUSES.get(run.status, run.status)),
        "description": run_title(run),
        "stage": stage_text(run.meta.get("stage", "queued"), run.meta.get("stage_figures")),
        "pct": run.meta.get("pct", 0),
        "mode": run.meta.get("mode", "single"),
    }
    if run.status == JobStatus.FINISHED:
        body |= {"pct": 100, "stage": stage_text("done")}
    return body


def recent_runs() -> list[dict]:
    """The newest runs still kept, newest first: the fields shown, read in one round trip."""
    redis = get_redis()
    ids = [raw.decode() for raw in redis.lrange(RUNS_KEY, 0, -1)]
    with redis.pipeline(transaction=False) as pipe:
        for run_id in ids:
            pipe.hmget(Job.key_for(run_id), "status", "meta", "description")
        hashes = pipe.execute()
    rows = [
        _run_row(RunHash.read(run_id, *fields))
        for run_id, fields in zip(ids, hashes, strict=True)
        if fields[0] is not None  # an expired run has no hash left
    ]
    keys = ("id", "status", "status_label", "description", "stage")
    return [{key: row[key] for key in keys} for row in rows]


def _exists(run_id: str) -> bool:
    return bool(run_id) and len(run_id) <= 64 and get_redis().exists(Job.key_for(run_id)) == 1


def default_form(now: datetime) -> dict:
    today = timezone.localtime(now).date()
    return {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}


def default_range_note(symbol: str, form: dict) -> str:
    """ "" when the form's default days hold candles of `symbol`; otherwise what is stored (a new
    install's first run would fail with "no candles" after a wait)."""
    start = timezone.make_aware(datetime.combine(date.fromisoformat(form["from"]), time()))
    end = timezone.make_aware(datetime.combine(date.fromisoformat(form["to"]) + timedelta(days=1), time()))
    minutes = Candle.objects.filter(symbol=symbol, interval="1m")
    if minutes.filter(timestamp__gte=start, timestamp__lt=end).exists():
        return ""
    first, last = minutes.order_by("timestamp").first(), minutes.order_by("-timestamp").first()
    if first is None:
        return _("No candles of %(symbol)s are stored yet: run `manage.py backfill` before a backtest.") % {
            "symbol": symbol
        }
    return _(
        "No candles of %(symbol)s from %(start)s to %(end)s: "
        "stored minutes cover %(first)s to %(last)s (KST)."
    ) % {
        "symbol": symbol,
        "start": form["from"],
        "end": form["to"],
        "first": kst_text(first.timestamp, "%Y-%m-%d"),
        "last": kst_text(last.timestamp, "%Y-%m-%d"),
    }


def default_portfolio(symbols: list[str]) -> str:
    """The portfolio list the form starts with: the strategy's symbols, at most MAX_SYMBOLS."""
    return ", ".join(symbols[:MAX_SYMBOLS])
