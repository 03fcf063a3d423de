"""Look-ahead and warm-up checks asked from the Lab page: checked and stored (every refusal at
once, nothing stored), run as a job on the `lab` queue (lab.jobs), the verdict per column kept
with the row. The checks themselves are lab.lookahead's, as `manage.py lookahead_check` runs them."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.formatting import number
from trading.backtest import load_bars
from trading.backtest_runs import parse_symbols
from trading.config import active_row, load_strategy
from trading.models import StrategyConfig

from .inputs import StudyRequest, market_errors, too_many_days
from .lookahead import Columns, check_strategy, column_rows, strategy_columns
from .models import LookaheadCheck

log = logging.getLogger(__name__)

MAX_SYMBOLS = 5  # each symbol recomputes every column at 50 cuts: a year of one takes about a minute
MAX_DAYS = 365  # as `manage.py lookahead_check --days`


class CheckRefused(ValueError):
    """The check was refused; `messages` lists every reason."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def check_errors(symbols: list[str], start: datetime, end: datetime, version: int | None) -> list[str]:
    """Every reason to refuse checking `version` (None: the active one) on these symbols and days:
    the study's own checks of symbols, dates, stored candles and version (lab.inputs)."""
    req = StudyRequest(symbols=symbols, start=start, end=end, regimes=[], space={}, objectives=[],
                       n_trials=1, base_version=version)  # fmt: skip
    errors = market_errors(req)
    if len(dict.fromkeys(symbols)) > MAX_SYMBOLS:
        errors.append(
            _("%(count)s symbols: check at most %(most)s at a time")
            % {"count": len(symbols), "most": MAX_SYMBOLS}
        )
    if end > start and (end - start).days > MAX_DAYS:
        errors = [e for e in errors if e != too_many_days(req)]  # said below in the check's terms
        errors.append(
            _("at most %(most)s days per check, not %(days)s")
            % {"most": number(MAX_DAYS), "days": number((end - start).days)}
        )
    return errors


def create_check(
    symbols: list[str], start: datetime, end: datetime, version: int | None, user=None
) -> LookaheadCheck:
    """Store a queued check (raises CheckRefused with every reason, storing nothing)."""
    errors = check_errors(symbols, start, end, version)
    if errors:
        raise CheckRefused(errors)
    names, _errors = parse_symbols(",".join(symbols))
    if version is None:
        active = active_row(StrategyConfig)
        version = active.version if active else None
    return LookaheadCheck.objects.create(
        symbols=names, start=start, end=end, config_version=version, created_by=user
    )


def start_check(check: LookaheadCheck) -> None:
    """Queue the check on the `lab` queue once its row is committed."""
    from .jobs import enqueue_lookahead_check  # the job module runs this one's functions

    transaction.on_commit(lambda: enqueue_lookahead_check(check.pk))


def run_check(check: LookaheadCheck, *, columns: Columns = strategy_columns) -> LookaheadCheck:
    """Check every symbol of `check` and store the verdicts (`columns`: lab.lookahead's, or a test's
    planted ones). A check that raises is stored as failed with the reason, never a traceback."""
    LookaheadCheck.objects.filter(pk=check.pk).update(status=LookaheadCheck.Status.RUNNING)
    try:
        params = load_strategy(check.config_version)
        result = {symbol: check_symbol(symbol, check, params, columns) for symbol in check.symbols}
    except Exception as exc:
        log.exception("look-ahead check %s failed", check.pk)
        LookaheadCheck.objects.filter(pk=check.pk).update(
            status=LookaheadCheck.Status.FAILED, finished_at=timezone.now(),
            error=f"the check could not run: {type(exc).__name__}: {exc}"[:2000],  # English: lab.wording
        )  # fmt: skip
    else:
        passed = all(part["passed"] for part in result.values())
        LookaheadCheck.objects.filter(pk=check.pk).update(
            status=LookaheadCheck.Status.DONE, passed=passed, result=result, finished_at=timezone.now()
        )
    check.refresh_from_db()
    return check


def check_symbol(symbol: str, check: LookaheadCheck, params, columns: Columns) -> dict:
    """One symbol's stored bars (with the warm-up before the range, as a backtest reads them)
    through both checks, JSON-ready."""
    bars, _start = load_bars(symbol, check.start, check.end)
    if len(bars) < 3:
        found = f"only {len(bars)} candles of {symbol}: the check needs at least 3"
        return {"bars": len(bars), "passed": False, "columns": [], "notes": [], "findings": [found]}
    result = check_strategy(bars, params, columns=columns)
    return {
        "bars": len(bars),
        "first": int(bars.ts[0]),
        "last": int(bars.ts[-1]),
        "passed": result.passed,
        "columns": column_rows(result),
        "findings": result.findings,
        "notes": result.notes,
    }
