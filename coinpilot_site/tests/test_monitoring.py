"""The monitoring kit in deploy/: Prometheus scrape config and alert rules (checked and unit-tested
by promtool), Grafana dashboards, the compose profile, and the rule that every PromQL expression
names only metrics CoinPilot exports (taken from a real /metrics scrape)."""

import importlib
import json
import os
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from prometheus_client.metrics import MetricWrapperBase

from conftest import ROOT, store_minutes

DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
PROMTOOL = shutil.which("promtool")
# Series Prometheus writes itself for every target (not exported by CoinPilot).
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
PROMQL_WORDS |= {"bool", "offset", "inf", "nan"}


def need_promtool() -> str:
    if PROMTOOL is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed on CI (.ci/run installs Debian's prometheus package)")
        pytest.skip("promtool (Debian package prometheus) is not installed here")
    return PROMTOOL


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, expr) of every query of every dashboard panel."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name} / {panel['title']}", target["expr"]))
    return found


def every_expression() -> list[tuple[str, str]]:
    rules = [(f"alerts.yml / {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    return rules + dashboard_expressions()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords or numbers)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # label values can hold anything
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    label_lists = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    text = re.sub(label_lists, " ", text)  # by (le, job): label names, not metrics
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":
            continue  # the exponent or unit of a number (1e3, 5m)
        if text[match.end() :].lstrip().startswith("(") or match.group().lower() in PROMQL_WORDS:
            continue  # a function or keyword
        names.add(match.group())
    return names


def declared_names() -> set[str]:
    """Sample names of every Counter/Gauge/Histogram defined in the project's modules and in
    django-prometheus: a labelled metric appears in a scrape only once a process has used it."""
    modules = []
    for path in ROOT.glob("*/**/*.py"):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") for part in parts) or "tests" in parts or "migrations" in parts:
            continue
        if "prometheus_client import" in path.read_text():
            modules.append(importlib.import_module(".".join(path.with_suffix("").relative_to(ROOT).parts)))
    from django_prometheus.middleware import Metrics

    holders = [vars(module) for module in modules] + [vars(Metrics.get_instance())]
    names = set()
    for metric in (v for holder in holders for v in holder.values() if isinstance(v, MetricWrapperBase)):
        for family in metric.describe():
            names |= suffixed(family.name, family.type)
    return names


def suffixed(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count"}
    return {name}


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def sample_names(exposition: str) -> set[str]:
    return {
        re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group()
        for line in exposition.splitlines()
        if line[:1].isalpha()
    }


def with_everything_to_report(settings, tmp_path, monkeypatch) -> None:
    """State in which every scrape-time gauge has something to say: bars, a volatility fit, a fill
    drift report, the paper account, a visible database disk, a known Redis policy."""
    from analytics.models import FillDriftReport
    from conftest import real_services_configured
    from core import collectors
    from core.redis_conn import get_redis
    from market.volatility import STATE_KEY
    from trading.booking import account_for
    from trading.models import TradeMode

    now = timezone.now()
    store_minutes("KRW-BTC", 60, end=now.replace(second=0, microsecond=0))
    get_redis().set(STATE_KEY, json.dumps({"current_volatility": 0.004}))
    FillDriftReport.objects.create(
        day=(now - timedelta(days=1)).date(), mean_bps=3, mean_abs_bps=4, max_abs_bps=9, live_only=1
    )
    account_for(TradeMode.PAPER)
    settings.DATABASE_DISK_PATH = str(tmp_path)
    if not real_services_configured():
        monkeypatch.setattr(collectors, "eviction_policy", lambda: "noeviction")  # fakeredis has no CONFIG


# --- promtool ------------------------------------------------------------------------------


def test_promtool_accepts_the_scrape_config_and_every_alert_rule_test_passes(tmp_path):
    promtool = need_promtool()
    shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    (tmp_path / "prometheus" / "metrics_token").write_text("token")  # compose writes it at start
    for args in (["check", "config", "prometheus.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=tmp_path / "prometheus", capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_fails_when_a_rule_no_longer_matches_its_test(tmp_path):
    """The unit tests bite: a rule whose threshold moved fails them."""
    promtool = need_promtool()
    shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    rules = tmp_path / "prometheus" / "alerts.yml"
    rules.write_text(rules.read_text().replace("coinpilot_scheduler_heartbeat_age_seconds > 60", "x > 60"))
    result = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=rules.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SchedulerHeartbeatMissing" in result.stdout + result.stderr


def test_every_alert_rule_is_explained_and_unit_tested_both_ways():
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test["alert_rule_test"]]
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        name = rule["alert"]
        assert "for" in rule, name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 80, name
        mine = [check for check in checks if check["alertname"] == name]
        assert any(check["exp_alerts"] for check in mine), f"{name}: no test where it fires"
        assert any(not check.get("exp_alerts") for check in mine), f"{name}: no test where it stays quiet"
    required = {"CandlesStale", "BotCycleFailing", "BotCycleMissed", "SchedulerHeartbeatMissing"}
    required |= {"ReconcileHold", "KillSwitchOn", "LossLimitHalt", "AIGlobalBlock", "NotificationsFailing"}
    required |= {"RedisEvictionPolicyWrong", "DatabaseDiskLow", "FillDriftHigh"}
    assert required <= set(names)


# --- dashboards ----------------------------------------------------------------------------


def test_every_dashboard_loads_and_uses_the_provisioned_datasource():
    datasources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/coinpilot.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"  # compose mounts it there
    uids = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.append(dashboard["uid"])
        assert dashboard["title"] and dashboard["panels"], path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
    assert sorted(uids) == sorted(set(uids))
    assert {
        "coinpilot-trading",
        "coinpilot-market",
        "coinpilot-jobs",
        "coinpilot-ai",
        "coinpilot-web",
    } <= set(uids)


def test_metric_names_are_read_from_promql():
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, job) (rate(job_seconds_bucket{job="a b"}[15m])))'
    ) == {"job_seconds_bucket"}
    assert metric_names('time() - max(x_seconds{job="bot_cycle"}) > 300 or absent(y{job="bot_cycle"})') == {
        "x_seconds",
        "y",
    }
    assert metric_names("predict_linear(free[6h], 3 * 24 * 3600) < 0 and on (a) b offset 5m") == {"free", "b"}
    assert metric_names("topk(8, sum without (view) (c_total)) / ignoring(x) d > bool 1e3") == {
        "c_total",
        "d",
    }


@pytest.mark.django_db
def test_every_promql_expression_names_only_metrics_coinpilot_exports(
    client, settings, tmp_path, monkeypatch
):
    with_everything_to_report(settings, tmp_path, monkeypatch)
    client.get("/healthz")  # django-prometheus' request metrics
    scraped = sample_names(scrape(client))
    # The scrape-time gauges come from a real scrape only: each collector must still deliver them.
    from_collectors = {
        "coinpilot_kill_switch", "coinpilot_reconcile_hold", "coinpilot_trading_halted",
        "coinpilot_candle_age_seconds", "coinpilot_volatility_index", "coinpilot_positions_cost_krw",
        "coinpilot_ai_global_block", "coinpilot_ai_cost_today_usd", "coinpilot_ai_budget_usd",
        "coinpilot_scheduler_heartbeat_age_seconds", "coinpilot_queue_jobs", "coinpilot_redis_up",
        "coinpilot_redis_maxmemory_policy", "coinpilot_database_up", "coinpilot_database_size_bytes",
        "coinpilot_database_disk_free_bytes", "coinpilot_database_disk_total_bytes",
        "coinpilot_fill_drift_bps", "coinpilot_fill_drift_unmatched_trades", "coinpilot_account_balance_krw",
        "django_http_responses_total_by_status_view_method_total",
    }  # fmt: skip
    assert from_collectors <= scraped, from_collectors - scraped
    exported = scraped | declared_names()
    unknown = {}
    for where, expr in every_expression():
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        if names - exported - PROMETHEUS_OWN:
            unknown[where] = sorted(names - exported - PROMETHEUS_OWN)
    assert not unknown, f"metrics CoinPilot does not export: {unknown}"


@pytest.mark.django_db
def test_a_misspelled_metric_is_caught(client):
    exported = sample_names(scrape(client)) | declared_names()
    assert "coinpilot_job_runs_total" in exported
    assert metric_names("rate(coinpilot_job_run_total[5m])") - exported == {"coinpilot_job_run_total"}


# --- the gauges added for the alerts -------------------------------------------------------


@pytest.mark.django_db
def test_the_switch_gauges_follow_the_database(client):
    from trading.models import DailyRiskState, TradingControl
    from trading.risk import kst_day

    exposition = scrape(client)
    assert "coinpilot_reconcile_hold 0.0" in exposition
    assert 'coinpilot_trading_halted{scope="day"} 0.0' in exposition
    control = TradingControl.current()
    control.reconcile_mismatch = "KRW-BTC: ours 1, Upbit 0.5"
    control.save()
    DailyRiskState.objects.create(date=kst_day(timezone.now()), is_trading_halted=True)
    exposition = scrape(client)
    assert "coinpilot_reconcile_hold 1.0" in exposition
    assert 'coinpilot_trading_halted{scope="day"} 1.0' in exposition
    assert 'coinpilot_trading_halted{scope="week"} 0.0' in exposition


@pytest.mark.django_db
def test_the_scheduler_heartbeat_age_is_read_from_redis(client):
    from core.redis_conn import get_redis
    from core.scheduling import HEARTBEAT_KEY

    assert "coinpilot_scheduler_heartbeat_age_seconds +Inf" in scrape(client)  # no scheduler running
    beat = {"at": (timezone.now() - timedelta(seconds=7)).isoformat(), "pid": 1, "host": "h"}
    get_redis().set(HEARTBEAT_KEY, json.dumps(beat))
    age = float(
        re.search(r"^coinpilot_scheduler_heartbeat_age_seconds (\S+)$", scrape(client), re.M).group(1)
    )
    assert 7 <= age < 30


@pytest.mark.django_db
def test_the_ai_global_block_is_read_from_redis(client):
    from agents.guardrails import BLOCK_KEY
    from core.redis_conn import get_redis

    assert "coinpilot_ai_global_block 0.0" in scrape(client)
    get_redis().set(BLOCK_KEY, "5 errors in a row", ex=600)
    assert "coinpilot_ai_global_block 1.0" in scrape(client)


@pytest.mark.django_db
def test_queue_depth_counts_waiting_jobs(client):
    from rq import Queue

    from core.redis_conn import get_redis

    Queue("notifications", connection=get_redis()).enqueue("core.jobs.heartbeat")  # waits: no worker here
    assert 'coinpilot_queue_jobs{queue="notifications",state="queued"} 1.0' in scrape(client)


@pytest.mark.django_db
def test_the_database_disk_is_reported_where_it_is_visible(client, settings, tmp_path):
    settings.DATABASE_DISK_PATH = str(tmp_path)
    exposition = scrape(client)
    free = float(re.search(r"^coinpilot_database_disk_free_bytes (\S+)$", exposition, re.M).group(1))
    assert 0 < free <= shutil.disk_usage(tmp_path).total
    settings.DATABASE_DISK_PATH = str(tmp_path / "not-mounted")
    assert "coinpilot_database_disk_free_bytes" not in scrape(client)  # no guess


@pytest.mark.real_services
@pytest.mark.django_db
def test_the_redis_eviction_policy_is_the_servers(client):
    from django.conf import settings

    from core.checks import redis_eviction_policy

    policy = redis_eviction_policy(settings.REDIS_URL)
    assert f'coinpilot_redis_maxmemory_policy{{policy="{policy}"}} 1.0' in scrape(client)


@pytest.mark.django_db
def test_a_redis_outage_drops_the_redis_gauges_but_not_the_scrape(client, monkeypatch):
    from core import system

    monkeypatch.setattr(system, "check_redis", lambda: "ConnectionError: refused")
    exposition = scrape(client)
    assert "coinpilot_redis_up 0.0" in exposition
    assert "coinpilot_scheduler_heartbeat_age_seconds" not in exposition
    assert "coinpilot_kill_switch 0.0" in exposition  # the rest of the scrape still answers


# --- docker-compose ------------------------------------------------------------------------


def test_the_monitoring_profile_wires_prometheus_and_grafana_to_the_deploy_files(tmp_path):
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed on CI (.ci/run installs it)")
        pytest.skip("docker-compose (Debian package) is not installed here")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    env_file = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(env_file + "POSTGRES_PASSWORD=pw\nGRAFANA_ADMIN_PASSWORD=grafana-pw\n")
    result = subprocess.run(
        [compose, "--profile", "monitoring", "config"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == ["monitoring"] and grafana["profiles"] == ["monitoring"]
    for service in (prometheus, grafana):
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", service["image"]), service["image"]  # pinned
    mounts = dict(reversed(volume.split(":")[:2]) for volume in prometheus["volumes"])
    assert mounts["/etc/prometheus/alerts.yml"] == str(tmp_path / "deploy/prometheus/alerts.yml")
    assert "web" in prometheus["depends_on"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "grafana-pw"
    mounts = dict(reversed(volume.split(":")[:2]) for volume in grafana["volumes"])
    assert mounts["/etc/grafana/dashboards"] == str(tmp_path / "deploy/grafana/dashboards")
    assert mounts["/etc/grafana/provisioning"] == str(tmp_path / "deploy/grafana/provisioning")
    target = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"][0]
    assert target["static_configs"][0]["targets"] == ["web:8000"]
    web_mounts = dict(reversed(volume.split(":")[:2]) for volume in services["web"]["volumes"])
    assert web_mounts[services["web"]["environment"]["DATABASE_DISK_PATH"]] == "pgdata"
