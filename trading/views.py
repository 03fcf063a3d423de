"""Trading pages: Risk, History (with a streamed CSV export) and Backtest."""

import csv
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from core.caching import cached, cached_page, digest, newest_id
from core.kst import kst_text
from market.models import Regime

from . import backtest_runs
from .config import load_strategy
from .dashboard import AUDIT_DAYS, audit_log, audit_window_start, kill_switch_banner, risk_overview
from .models import ExitReason, RiskAudit, Side, StrategyConfig, Trade

PAGE_SIZE = 50


def risk_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    since = audit_window_start(now)
    # audit rows are only ever added: a new one, or the window's next hour, is the only change
    version = f"{newest_id(RiskAudit)}:{since:%Y%m%d%H}"
    filters = digest(request.GET.get("type", ""), request.GET.get("symbol", ""))
    page = cached_page(
        audit_log(request.GET, since),
        PAGE_SIZE,
        request.GET.get("page"),
        count_key=f"audit-count:{filters}:{version}",
        rows_key=f"audit-rows:{filters}:{version}",
    )
    window = RiskAudit.objects.filter(created_at__gte=since).order_by()
    types = cached(
        f"audit-types:{version}", lambda: list(window.values_list("violation_type", flat=True).distinct())
    )
    risk = risk_overview(now)
    return render(
        request,
        "trading/risk.html",
        {
            "risk": risk,
            "page": page,
            "types": sorted(types),
            "query": _query(request),
            "audit_days": AUDIT_DAYS,
            "kill_switch": kill_switch_banner(risk),
        },
    )


def history_filter(params) -> tuple[Q, dict]:
    """Trade filters from the query string (invalid values are ignored and reported)."""
    query, shown = Q(), {}
    for name, field, allowed in (
        ("symbol", "symbol", None),
        ("side", "side", Side.values),
        ("exit_reason", "exit_reason", ExitReason.values),
        ("regime", "regime", Regime.values),
    ):
        value = params.get(name, "").strip()
        if value and (allowed is None or value in allowed):
            query &= Q(**{field: value})
            shown[name] = value
    for name, lookup, shift in (("from", "created_at__gte", 0), ("to", "created_at__lt", 1)):
        value = params.get(name, "").strip()
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError:
            shown[f"{name}_error"] = _("'%(value)s' is not a date (YYYY-MM-DD)") % {"value": value}
            continue
        if day:
            start = timezone.make_aware(datetime.combine(day + timedelta(days=shift), time()))  # KST midnight
            query &= Q(**{lookup: start})
            shown[name] = value
    return query, shown


def history_page(request: HttpRequest) -> HttpResponse:
    query, shown = history_filter(request.GET)
    trades = Trade.objects.filter(query).order_by("-created_at")
    newest_trade = newest_id(Trade)
    count_key = f"trade-count:{digest(sorted(shown.items()))}:{newest_trade}"
    page = cached_page(trades, PAGE_SIZE, request.GET.get("page"), count_key=count_key)
    return render(
        request,
        "trading/history.html",
        {
            "page": page,
            "shown": shown,
            "query": _query(request),
            "sides": Side.values,
            "exit_reasons": ExitReason.values,
            "regimes": Regime.values,
            "symbols": traded_symbols(newest_trade),
        },
    )


def traded_symbols(newest_trade: int | None = None) -> list[str]:
    """Every symbol ever traded (the History filter's choices), read again only after a new trade
    (`newest_trade`: the newest trade id, when the caller has read it already)."""
    newest_trade = newest_id(Trade) if newest_trade is None else newest_trade
    return cached(
        f"traded-symbols:{newest_trade}",
        lambda: sorted(Trade.objects.order_by().values_list("symbol", flat=True).distinct()),
    )


class _Echo:
    def write(self, value):
        return value


CSV_FIELDS = [
    "created_at_kst",
    "executed_at_kst",
    "symbol",
    "side",
    "price",
    "quantity",
    "amount",
    "fee",
    "status",
    "exit_reason",
    "regime",
    "pnl_krw",
    "pnl_pct",
    "mode",
    "client_order_id",
    "scale_out_level",
    "sizing",
]


def history_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trades as CSV, streamed row by row (KST times, KRW amounts): machine-readable, so
    exact decimals without separators and an English header in every language."""
    query, _shown = history_filter(request.GET)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_FIELDS)
        for t in Trade.objects.filter(query).order_by("created_at").iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    kst_text(t.created_at, "%Y-%m-%d %H:%M:%S"),
                    kst_text(t.executed_at, "%Y-%m-%d %H:%M:%S"),
                    t.symbol,
                    t.side,
                    t.price,
                    t.quantity,
                    t.amount,
                    t.fee,
                    t.status,
                    t.exit_reason,
                    t.regime,
                    t.signal_info.get("pnl", ""),
                    t.signal_info.get("pnl_pct", ""),
                    t.mode,
                    t.client_order_id,
                    t.signal_info.get("partial_levels_done", ""),
                    t.signal_info.get("sizing", ""),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="coinpilot-trades.csv"'
    return response


def _query(request: HttpRequest) -> str:
    """The query string without `page`, for pagination links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def backtest_page(request: HttpRequest) -> HttpResponse:
    """The form (POST starts a background run, of one symbol or a portfolio, and redirects to it)
    and the recent runs."""
    symbols = load_strategy().symbols
    errors, form = [], backtest_runs.default_form(timezone.now())
    if request.method == "POST":
        form = request.POST
        req, errors = backtest_runs.parse_form(request.POST)
        if req is not None:
            return redirect("backtest-run", run_id=backtest_runs.start_run(req))
    return render(
        request,
        "trading/backtest.html",
        {
            "form": form,
            "errors": errors,
            "runs": backtest_runs.recent_runs(),
            "symbols": symbols,
            "portfolio": backtest_runs.default_portfolio(symbols),
            "range_note": "" if errors or not symbols else backtest_runs.default_range_note(symbols[0], form),
            "max_symbols": backtest_runs.MAX_SYMBOLS,
            "versions": StrategyConfig.objects.values_list("version", flat=True),
        },
        status=400 if errors else 200,
    )


def backtest_run(request: HttpRequest, run_id: str) -> HttpResponse:
    status = backtest_runs.run_status(run_id, report=False)  # the page's script fetches the report
    if status is None:
        raise Http404(_("No such backtest run (runs are kept for a day)."))
    return render(request, "trading/backtest_run.html", {"run": status})


@never_cache
def backtest_run_json(request: HttpRequest, run_id: str) -> HttpResponse:
    body = backtest_runs.run_json(run_id)
    if body is None:
        return JsonResponse({"error": _("No such backtest run (runs are kept for a day).")}, status=404)
    return HttpResponse(body, content_type="application/json")
