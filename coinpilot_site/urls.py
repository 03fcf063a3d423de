from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_page
from django.views.i18n import JavaScriptCatalog

from analytics import views as analytics_views
from trading import views as trading_views

from . import language, pages, views

admin.site.site_header = _("CoinPilot administration")
admin.site.site_title = _("CoinPilot administration")  # the browser tab

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("api/overview", pages.overview_json, name="overview-json"),
    path("api/v1/", include("api.urls")),
    path("market/", pages.market, name="market"),
    path("market/chart.json", pages.market_chart_data, name="market-chart-data"),
    path("risk/", trading_views.risk_page, name="risk"),
    path("history/", trading_views.history_page, name="history"),
    path("history.csv", trading_views.history_csv, name="history-csv"),
    path("exits/", analytics_views.exit_analysis_page, name="exit-analysis"),
    path("backtest/", trading_views.backtest_page, name="backtest"),
    path("backtest/<str:run_id>/", trading_views.backtest_run, name="backtest-run"),
    path("backtest/<str:run_id>.json", trading_views.backtest_run_json, name="backtest-run-json"),
    path("lab/", include("lab.urls")),
    path("system/", views.system_page, name="system"),
    path("ask/", include("coinpilot_site.ask.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", views.metrics, name="metrics"),
    path("language/", language.set_language, name="set-language"),
    # The Korean strings of static/js (djangojs catalog); cached a day per language (the cache key has it).
    path(
        "jsi18n/",
        login_not_required(cache_page(86400)(JavaScriptCatalog.as_view())),
        name="javascript-catalog",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
]
