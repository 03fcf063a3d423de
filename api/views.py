"""The token API (`/api/v1/`): thin endpoints over api.reads and trading.control.

Reads accept a token of either scope or the browser session; control actions only a token with
scope `control` (its user is the one audited). Every refusal is JSON: `{"error", "problems"}`.
"""

import logging
from datetime import date

from django.http import HttpRequest
from django.utils import timezone
from ninja import Body, NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError, ValidationError

from market.models import Regime
from trading import control
from trading.models import ExitReason, Side

from . import auth, reads
from . import schemas as s
from .errors import BadRequest, NotFound

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="CoinPilot API",
    version="1",
    description="Read the bot's state and act on it with a personal access token "
    "(`Authorization: Bearer cp_...`, created in the admin). Money is exact decimal text; "
    "times are ISO 8601 in UTC, with a `_kst` twin in Korean time.",
    urls_namespace="api-v1",
    docs_url="/docs",
)
REFUSALS = {400: s.Error, 401: s.Error, 403: s.Error}


def read(path: str, schema):
    return api.get(path, auth=auth.READ, response={200: schema, **REFUSALS}, tags=["read"], by_alias=True)


def act(path: str):
    return api.post(
        path, auth=auth.CONTROL, response={200: s.Done, **REFUSALS, 404: s.Error}, tags=["control"]
    )


# --- reads -------------------------------------------------------------------------------------

AT_ENTRY = Query(None, description="The regime at entry")
FIRST_DAY = Query(None, alias="from", description="First KST day, YYYY-MM-DD")
LAST_DAY = Query(None, description="Last KST day, YYYY-MM-DD (included)")
FIRST_DAY_OR_30_DAYS_AGO = Query(None, alias="from", description="First KST day (default: 29 days before to)")
LAST_DAY_OR_TODAY = Query(None, description="Last KST day (default: today)")


@read("/status", s.Status)
def status(request: HttpRequest):
    """Per symbol: price, regime, position, the bot's last action and reason; the kill switch."""
    return reads.status(timezone.now())


@read("/positions", list[s.Position])
def positions(request: HttpRequest):
    """Open positions marked at the latest close."""
    return reads.positions()


@read("/trades", s.TradePage)
def trades(
    request: HttpRequest,
    symbol: str | None = Query(None, max_length=20, description="e.g. KRW-BTC"),
    side: Side | None = None,
    exit_reason: ExitReason | None = None,
    regime: Regime | None = AT_ENTRY,
    from_: date | None = FIRST_DAY,
    to: date | None = LAST_DAY,
    limit: int = Query(50, ge=1, le=reads.MAX_PAGE),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    """Every order, newest first, with the History page's filters; page with limit/offset."""
    params = {
        "symbol": symbol,
        "side": side.value if side else None,
        "exit_reason": exit_reason.value if exit_reason else None,
        "regime": regime.value if regime else None,
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
    }
    return reads.trades(params, limit=limit, offset=offset)


@read("/daily-pnl", s.DailyPnl)
def daily_pnl(
    request: HttpRequest,
    from_: date | None = FIRST_DAY_OR_30_DAYS_AGO,
    to: date | None = LAST_DAY_OR_TODAY,
):
    """Realized PnL and trades per KST day (at most 366 days), with the total."""
    return reads.daily_pnl(from_ and from_.isoformat(), to and to.isoformat(), timezone.now())


@read("/regimes", s.Regimes)
def regimes(
    request: HttpRequest,
    symbol: str | None = Query(None, max_length=20),
    limit: int = Query(50, ge=1, le=reads.MAX_PAGE),
):
    """The regime the bot uses now, per symbol, and the latest evaluations."""
    return reads.regimes(symbol, limit)


@read("/jobs", s.Jobs)
def jobs(request: HttpRequest, failures: int = Query(20, ge=0, le=reads.MAX_PAGE)):
    """Per scheduled job: the latest run, next slot, the last 24 h's runs and failures; the latest
    failed runs."""
    return reads.jobs(timezone.now(), failures)


@read("/metrics", s.Metrics)
def metrics(request: HttpRequest):
    """Equity, cash, exposure, today's PnL and the AI's usage today."""
    return reads.metrics(timezone.now())


# --- control -----------------------------------------------------------------------------------


OPTIONAL_REASON = Body(None)  # `curl -X POST` with no body is fine: the token's name stands in


def why(request: HttpRequest, payload: s.Reason | None) -> str:
    """The operator's reason, else which token acted (kept with the switch and in the audit log)."""
    return (payload and payload.reason) or f"API token '{request.api_token.name}'"


def done(request: HttpRequest, action: str, lines: list[str] | None = None) -> dict:
    return {
        "action": action,
        "by": request.auth.get_username(),
        "lines": lines or [],
        "kill_switch": reads.kill_switch(),
    }


@act("/control/kill-switch")
def kill_switch(request: HttpRequest, payload: s.KillSwitchChange):
    """Turn the kill switch on (no new entries; exits keep running) or off."""
    control.set_kill_switch(payload.on, reason=why(request, payload), user=request.auth)
    return done(request, "kill switch on" if payload.on else "kill switch off")


@act("/control/flatten")
def flatten(request: HttpRequest, payload: s.Reason | None = OPTIONAL_REASON):
    """The kill switch on, then every open position sold at market."""
    return done(
        request,
        "flatten",
        control.kill_and_flatten(user=request.auth, reason=why(request, payload)),
    )


@act("/control/close")
def close(request: HttpRequest, payload: s.CloseSymbol):
    """Sell one open position at market (exit reason MANUAL)."""
    symbol = reads.checked_symbol(payload.symbol)
    if symbol is None:
        raise BadRequest({"symbol": "which market to close, e.g. KRW-BTC"})
    try:
        lines = control.close_position(symbol, user=request.auth)
    except control.NoPosition as exc:
        raise NotFound({"symbol": str(exc)}) from None
    return done(request, f"close {symbol}", lines)


@act("/control/pause-entries")
def pause_entries(request: HttpRequest, payload: s.Reason | None = OPTIONAL_REASON):
    """No new entries until resumed (no kill-switch alarm); exits keep running."""
    control.pause_entries(user=request.auth, reason=why(request, payload))
    return done(request, "entries paused")


@act("/control/resume")
def resume(request: HttpRequest):
    """New entries allowed again after a pause (the kill switch, if on, still stops them)."""
    control.resume_entries(user=request.auth)
    return done(request, "entries resumed")


# --- refusals ------------------------------------------------------------------------------------


def refusal(request: HttpRequest, status: int, error: str, problems: dict | None = None):
    response = api.create_response(request, {"error": error, "problems": problems or {}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="coinpilot"'
    return response


@api.exception_handler(BadRequest)
def bad_request(request: HttpRequest, exc: BadRequest):
    return refusal(request, exc.status, str(exc), exc.problems)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError):
    problems = {}
    for error in exc.errors:
        where = [
            str(part) for part in error.get("loc", ()) if part not in ("query", "body", "payload", "path")
        ]
        name = ".".join(where) or "body"
        problems[name] = error.get("msg", "not valid")
        if error.get("type", "").startswith("date") and name in request.GET:  # pydantic's words are not ours
            problems[name] = f"'{request.GET[name]}' is not a date (YYYY-MM-DD, a KST day)"
    return refusal(request, 400, "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    message = str(exc)
    if isinstance(exc, AuthenticationError) and message == "Unauthorized":
        message = auth.MISSING
    if message.startswith("Cannot parse request body"):  # ninja's words for a body that is not JSON
        problem = 'not a JSON object: send Content-Type: application/json and e.g. {"reason": "..."}'
        return refusal(request, 400, f"body: {problem}", {"body": problem})
    return refusal(request, exc.status_code, message)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception):
    log.exception("API %s %s failed", request.method, request.path)  # the path only: no header, no body
    return refusal(request, 500, "the server failed to answer; its log has the details")
