"""The Exit analysis page: did we sell too early or hold too long?"""

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.caching import cached, cached_page, newest_id
from trading.models import Trade

from .exit_performance import exit_analysis
from .exits import sell_details
from .models import TuningSuggestion
from .suggestions import suggestion_lines

PERIODS = {"7": 7, "14": 14, "30": 30, "90": 90}


def exit_analysis_page(request: HttpRequest) -> HttpResponse:
    days = PERIODS.get(request.GET.get("days", "7"), 7)
    now = timezone.now()
    newest_trade = newest_id(Trade)
    data = cached(f"exit-analysis:{days}:{newest_trade}", lambda: exit_analysis(now, days=days))
    # cached for readers of either language: the suggestions are worded for this one
    data = data | {"suggestions": data["suggestions"] | {"lines": suggestion_lines(data["suggestions"])}}
    sells = cached_page(
        sell_details(now - timedelta(days=days), now),
        25,
        request.GET.get("page"),
        count_key=f"exit-sells:{days}:{newest_trade}",  # the period moves too: a minute at most
    )
    pending = TuningSuggestion.objects.filter(applied_at__isnull=True).order_by("-created_at")[:20]
    return render(
        request,
        "analytics/exit_analysis.html",
        {
            "data": data,
            "days": days,
            "periods": list(PERIODS),
            "pending": pending,
            "page": sells,
            "query": f"days={days}",
        },
    )
