"""Every project command prints its --help (a stray % in a help text is a traceback for the operator)."""

import pytest
from django.core.management import get_commands, load_command_class

PROJECT_APPS = {"core", "coinpilot_site", "market", "trading", "agents", "analytics", "lab", "remote", "api"}
COMMANDS = sorted((name, app) for name, app in get_commands().items() if app in PROJECT_APPS)


def test_the_project_has_commands():
    assert {"optimize", "backtest", "lookahead_check", "run_embedded", "run_telegram", "fill_drift"} <= {
        name for name, _ in COMMANDS
    }


@pytest.mark.parametrize(("name", "app"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_help_renders(name, app):
    parser = load_command_class(app, name).create_parser("manage.py", name)
    assert name in parser.format_help()
