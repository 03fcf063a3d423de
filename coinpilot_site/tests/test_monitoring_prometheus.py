"""The real Prometheus (Debian's binary) with deploy/prometheus's config and rules, scraping a
CoinPilot web server: the scrape succeeds, dashboard queries return data, the rules evaluate,
and Prometheus' own pages are screenshotted ($COINPILOT_SCREENSHOTS, e.g. docs/screenshots)."""

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
import yaml
from django.conf import settings

from coinpilot_site.tests.test_monitoring import PROMETHEUS_DIR, dashboard_expressions, metric_names
from conftest import stop_children, store_minutes
from tests.waiting import wait_for
from tests.web_server import free_port

PROMETHEUS = shutil.which("prometheus")
TOKEN = "monitoring-test-token"  # noqa: S105 - a test value, the same one the server is given
pytestmark = pytest.mark.django_db(transaction=True)  # the live server's thread reads the rows


def poll(what: str, read, seconds: float = 20.0):
    """`read()` until it returns something truthy (4 queries a second to Prometheus)."""
    return wait_for(read, seconds, what, every=0.25)


@pytest.fixture
def prometheus(live_server, settings, tmp_path):
    """Prometheus on a free port with the deploy config retargeted at the live server (1 s scrape
    and evaluation so the test is short); yields its httpx client. CoinPilot's state must be set
    before: the live server's thread and the test must not use the database at the same time."""
    if PROMETHEUS is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed on CI (.ci/run installs Debian's prometheus package)")
        pytest.skip("prometheus (Debian package) is not installed here")
    settings.METRICS_TOKEN = TOKEN
    httpx.get(f"{live_server.url}/metrics", timeout=60)  # loads the URLconf: later scrapes fit in 1 s
    folder = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, folder)
    (folder / "metrics_token").write_text(TOKEN)
    port = free_port()
    config = yaml.safe_load((folder / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    targets = {"coinpilot": urlsplit(live_server.url).netloc, "prometheus": f"127.0.0.1:{port}"}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    with open(tmp_path / "prometheus.log", "w") as log:
        child = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        poll("Prometheus ready", lambda: _ready(client, child, tmp_path / "prometheus.log"))
        yield client
    finally:
        client.close()
        stop_children([child])


def _ready(client: httpx.Client, child: subprocess.Popen, log: Path) -> bool:
    if child.poll() is not None:
        pytest.fail(f"prometheus exited with {child.returncode}:\n{log.read_text()[-3000:]}")
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def query(client: httpx.Client, expr: str) -> list[dict]:
    body = client.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def a_running_coinpilot_with_the_kill_switch_on() -> None:
    from django.utils import timezone

    from trading.booking import account_for
    from trading.models import TradeMode, TradingControl

    now = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 60, end=now)
    account_for(TradeMode.PAPER)
    control = TradingControl.current()
    control.kill_switch, control.reason = True, "monitoring test"
    control.save()


def test_a_real_prometheus_scrapes_coinpilot_evaluates_the_rules_and_draws_the_data(
    live_server, request, tmp_path
):
    a_running_coinpilot_with_the_kill_switch_on()
    client = request.getfixturevalue("prometheus")  # after the rows are written (see the fixture)
    errors = []

    def coinpilot_target_up():
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
        mine = [t for t in targets if t["labels"]["job"] == "coinpilot"]
        errors.extend(t["lastError"] for t in mine if t["lastError"])  # e.g. 403: the token refused
        return mine and mine[0]["health"] == "up"

    poll(f"the coinpilot target up (errors: {errors})", coinpilot_target_up)
    assert poll("the kill switch", lambda: query(client, "coinpilot_kill_switch"))[0]["value"][1] == "1"
    ages = query(client, "coinpilot_candle_age_seconds")
    assert [a["metric"]["symbol"] for a in ages] == ["KRW-BTC"]
    # Rates need two scrapes; each scrape is itself a request django-prometheus counts.
    rate = (
        'sum by (status) (rate(django_http_responses_total_by_status_view_method_total{view="metrics"}[1m]))'
    )
    assert poll("the web request rate", lambda: query(client, rate))[0]["metric"]["status"] == "200"
    present = {row["metric"]["__name__"] for row in query(client, '{job="coinpilot"}')}
    empty = []
    for where, expr in dashboard_expressions():
        result = query(client, expr)  # the real engine parses every dashboard query
        if not result and "{" not in expr and metric_names(expr) <= present:
            empty.append(where)  # data is there, the expression finds none: wrong label matching
    assert not empty, empty
    equity = query(client, "sum(coinpilot_account_balance_krw) + sum(coinpilot_positions_cost_krw)")
    assert float(equity[0]["value"][1]) == float(settings.COINPILOT_PAPER_INITIAL_KRW)

    def active_alerts():
        alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
        names = {a["labels"]["alertname"]: a["state"] for a in alerts}
        return names if {"KillSwitchOn", "SchedulerHeartbeatMissing"} <= set(names) else None

    alerts = poll("the alert rules evaluated", active_alerts)
    assert alerts["KillSwitchOn"] in {"pending", "firing"}  # for: 1m, so pending this early
    assert "CandlesStale" not in alerts and "ReconcileHold" not in alerts  # fresh bars, books fine
    screenshot_prometheus_pages(client, tmp_path)


def screenshot_prometheus_pages(client: httpx.Client, tmp_path: Path) -> None:
    """Prometheus' graph and alerts pages, to $COINPILOT_SCREENSHOTS (else the test's tmp_path)."""
    from tests.browser.conftest import CHROMIUM, chromium

    if not os.path.exists(CHROMIUM):
        assert not os.environ.get("CI"), "chromium is not installed on CI (.ci/run installs it)"
        return  # a developer machine without Debian's chromium: the checks above stand alone
    expr = "coinpilot_candle_age_seconds"
    poll("data to draw", lambda: query(client, f"count_over_time({expr}[1m]) >= 3"))
    folder = Path(os.environ.get("COINPILOT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.goto(f"{client.base_url}/classic/graph?g0.expr={quote(expr)}&g0.tab=0&g0.range_input=1m")
        tab.wait_for_selector("text=KRW-BTC", timeout=10_000)  # the legend: the series is drawn
        tab.screenshot(path=str(folder / "prometheus-graph.png"), full_page=True)
        tab.goto(f"{client.base_url}/classic/alerts")
        tab.wait_for_selector("text=KillSwitchOn", timeout=10_000)
        text = tab.inner_text("body")
        tab.screenshot(path=str(folder / "prometheus-alerts.png"), full_page=True)
    assert "CandlesStale" in text and "SchedulerHeartbeatMissing" in text
    assert (folder / "prometheus-graph.png").stat().st_size > 10_000
