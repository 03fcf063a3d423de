"""The secret sweep of the whole test run (tests/log_sweep.py) is on and catches a planted secret."""

import logging

import pytest

from tests.log_sweep import SWEEP, fail_on_leaks, named_secrets

PLANTED = {
    "ANTHROPIC_API_KEY": "sk-ant-planted-0123456789abcdef",
    "UPBIT_SECRET_KEY": "upbit-planted-secret-0123456789",
    "DISCORD_WEBHOOK_URL": "http://127.0.0.1:9/api/webhooks/7/planted-webhook-token-0123",
    "SENTRY_DSN": "http://plantedsentrykey0123@127.0.0.1:9/42",
}


@pytest.fixture
def planted(settings):
    for name, value in PLANTED.items():
        setattr(settings, name, value)
    settings.TELEGRAM_BOT_TOKEN = "123456:planted-telegram-token"
    return settings


def test_the_sweep_is_on_the_root_logger_and_sees_the_run():
    assert SWEEP in logging.getLogger().handlers
    before = SWEEP.lines
    logging.getLogger("coinpilot.sweep").warning("an ordinary line")
    assert SWEEP.lines == before + 1
    assert SWEEP.take_leaks() == []  # an ordinary line is no leak


@pytest.mark.parametrize(
    ("logged", "setting"),
    [
        (PLANTED["ANTHROPIC_API_KEY"], "ANTHROPIC_API_KEY"),
        (PLANTED["UPBIT_SECRET_KEY"], "UPBIT_SECRET_KEY"),
        ("planted-webhook-token-0123", "DISCORD_WEBHOOK_URL (token)"),  # the token alone, too
        ("plantedsentrykey0123", "SENTRY_DSN (key)"),
        ("123456:planted-telegram-token", "TELEGRAM_BOT_TOKEN"),
    ],
    ids=lambda value: "" if "planted" in str(value) else str(value),  # no secret in a test id
)
def test_a_secret_planted_in_a_log_line_is_caught_naming_the_logger_not_the_value(planted, logged, setting):
    logging.getLogger("coinpilot.planted").warning("calling out with %s", logged)
    leaks = SWEEP.take_leaks()  # taken, so this test itself does not fail at teardown
    assert [(leak.logger, leak.setting) for leak in leaks] == [("coinpilot.planted", setting)]
    assert logged not in leaks[0].describe() and "coinpilot.planted" in leaks[0].describe()


def test_a_test_that_logged_a_secret_fails_naming_the_logger_and_setting_only(planted, request):
    logging.getLogger("coinpilot.planted").info("key=%s", PLANTED["ANTHROPIC_API_KEY"])
    with pytest.raises(pytest.fail.Exception) as failed:
        fail_on_leaks(request.node.nodeid)  # what the autouse fixture runs after every test
    message = str(failed.value)
    assert "'coinpilot.planted'" in message and "ANTHROPIC_API_KEY" in message
    assert PLANTED["ANTHROPIC_API_KEY"] not in message
    fail_on_leaks(request.node.nodeid)  # taken: the test itself passes


def test_a_secret_in_a_logged_traceback_is_caught(planted, settings):
    try:
        raise RuntimeError(f"refused {settings.SECRET_KEY}")
    except RuntimeError:
        logging.getLogger("coinpilot.planted").exception("request failed")  # the value is only in exc
    assert [leak.setting for leak in SWEEP.take_leaks()] == ["SECRET_KEY"]


def test_a_logger_that_does_not_propagate_is_swept_too(planted):
    quiet = logging.getLogger("coinpilot.planted.quiet")
    quiet.propagate = False
    try:
        SWEEP.attach()
        quiet.error("key %s", PLANTED["ANTHROPIC_API_KEY"])
    finally:
        quiet.removeHandler(SWEEP)
        quiet.propagate = True
    assert [leak.logger for leak in SWEEP.take_leaks()] == ["coinpilot.planted.quiet"]


def test_the_test_settings_secret_key_is_swept_all_run(settings):
    assert ("SECRET_KEY", settings.SECRET_KEY) in named_secrets()
