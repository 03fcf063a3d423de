"""Safe defaults, refusals, deploy checks and the production compose file."""

import os
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.test import override_settings

from coinpilot_site.checks import live_trading_is_safe
from conftest import ROOT, manage_command

TEST_ONLY_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "SECURE_SSL_REDIRECT",
    "COINPILOT_EMBEDDED",
)
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
    "ALLOWED_HOSTS": "coinpilot.example.com",
}


def run_manage(*args: str, env: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    clean |= {"COINPILOT_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings"} | env
    return subprocess.run(manage_command(*args), env=clean, capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": ""}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_live_trading_is_refused_without_keys_or_with_debug(tmp_path):
    live = PRODUCTION_ENV | {"COINPILOT_LIVE_TRADING": "1", "UPBIT_ACCESS_KEY": "", "UPBIT_SECRET_KEY": ""}
    result = run_manage("check", env=live, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "coinpilot.E001" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"COINPILOT_LIVE_TRADING": False}, []),
        (
            {"COINPILOT_LIVE_TRADING": True, "UPBIT_ACCESS_KEY": "", "UPBIT_SECRET_KEY": "", "DEBUG": False},
            ["coinpilot.E001"],
        ),
        (
            {"COINPILOT_LIVE_TRADING": True, "UPBIT_ACCESS_KEY": "a", "UPBIT_SECRET_KEY": "b", "DEBUG": True},
            ["coinpilot.E002"],
        ),
        (
            {
                "COINPILOT_LIVE_TRADING": True,
                "UPBIT_ACCESS_KEY": "a",
                "UPBIT_SECRET_KEY": "b",
                "DEBUG": False,
            },
            [],
        ),
    ],
)
def test_live_trading_check(overrides, expected):
    with override_settings(**overrides):
        assert [error.id for error in live_trading_is_safe()] == expected


def test_defaults_are_safe_for_money(settings):
    assert settings.COINPILOT_LIVE_TRADING is False
    assert settings.ANTHROPIC_API_KEY == ""
    assert settings.TIME_ZONE == "Asia/Seoul" and settings.USE_TZ is True


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits non-zero on drift


@pytest.mark.parametrize("profile", [[], ["--profile", "monitoring"]], ids=["default", "monitoring"])
def test_production_compose_file_is_valid(tmp_path, profile):
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed on CI (.ci/run installs it)")
        pytest.skip("docker-compose (Debian package) is not installed here")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")  # the monitoring profile mounts its files
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text() + "POSTGRES_PASSWORD=pw\n")
    env = {"PATH": os.environ["PATH"]}
    result = subprocess.run(
        [compose, *profile, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_ensure_admin_creates_one_login_and_prints_it(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("ensure_admin")
    first = capsys.readouterr().out
    assert "created admin login: username 'admin', password '" in first
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert password in first
    call_command("ensure_admin")
    assert "admin login exists" in capsys.readouterr().out
