"""Pages that compose several apps: the Overview and the Market chart."""

from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.html import json_script
from django.views.decorators.cache import never_cache

from agents import gate
from core.caching import cached, newest_id
from core.kst import kst_text
from market.listing import delisted_held
from trading.config import load_strategy
from trading.dashboard import account_overview, equity_curve_points, kill_switch_banner
from trading.models import Trade
from trading.stale import outages

from . import market_chart


def overview(request: HttpRequest) -> HttpResponse:
    data = account_overview(timezone.now())
    return render(
        request,
        "coinpilot_site/overview.html",
        {
            "data": data,
            "ai_on": gate.enabled(),
            "live": _live_payload(data),
            "curve": equity_chart(),
            "outages": outages(p["symbol"] for p in data["positions"]),
            "delisted": delisted_held([p["symbol"] for p in data["positions"]]),
            "kill_switch": kill_switch_banner(data),
        },
    )


def equity_chart(initial: Decimal | None = None) -> dict:
    """The equity curve as the Overview embeds it (its trade count and its JSON <script>), made once
    per newest trade across processes (encoding its 2,000 points again cost 1.3 ms of CPU a view)."""
    initial = initial if initial is not None else Decimal(settings.COINPILOT_PAPER_INITIAL_KRW)

    def make() -> dict:
        curve = equity_curve_points(initial)
        return {"trades": curve["trades"], "script": json_script(curve, "equity-data")}

    return cached(f"equity-chart:{newest_id(Trade)}:{initial}", make)


@never_cache
def overview_json(request: HttpRequest) -> JsonResponse:
    """What the Overview page polls every few seconds (no full reload)."""
    return JsonResponse(_live_payload(account_overview(timezone.now())))


def _live_payload(data: dict) -> dict:
    def num(value):
        return None if value is None else float(value)

    return {
        "mode": data["mode"],
        "cash": num(data["cash"]),
        "equity": num(data["equity"]),
        "realized_today": num(data["realized_today"]),
        "unrealized": num(data["unrealized"]),
        "trades_today": data["trades_today"],
        "halted": data["halted"],
        "halt_reason": data["halt_reason"],
        "kill_switch": data["kill_switch"],
        "kill_reason": data["kill_reason"],
        "positions": [
            {
                "symbol": p["symbol"],
                "quantity": num(p["quantity"]),
                "avg_price": num(p["avg_price"]),
                "price": num(p["price"]),
                "unrealized_pnl": num(p["unrealized_pnl"]),
                "unrealized_pct": num(p["unrealized_pct"]),
                "regime": p["regime"],
                "opened_at": kst_text(p["opened_at"]),
            }
            for p in data["positions"]
        ],
        "statuses": data["statuses"],
    }


def market(request: HttpRequest) -> HttpResponse:
    """Candles with MA20 / Bollinger Bands, volume, RSI, regime shading and trade markers."""
    symbols = list(load_strategy().symbols)
    req, problems = market_chart.parse_request(request.GET, symbols, timezone.now())
    return render(
        request,
        "coinpilot_site/market.html",
        {
            "chart": market_chart.page_chart(req),
            "symbols": symbols,
            "ranges": list(market_chart.RANGES),
            "req": req,
            "problems": problems,
        },
    )


def market_chart_data(request: HttpRequest) -> HttpResponse:
    """The Market chart's data, fetched by the page: JSON from the shared cache, with an ETag, so a
    browser that already has this version gets a 304 and no body."""
    req, problems = market_chart.parse_request(request.GET, list(load_strategy().symbols), timezone.now())
    if problems:
        return JsonResponse({"errors": problems}, status=400)
    body, etag = market_chart.chart_body(req)
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type="application/json"
    )
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"  # ask again each time: a new candle is a new version
    return response
