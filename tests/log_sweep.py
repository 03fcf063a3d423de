"""The secret sweep: no log line of the test run may carry a configured secret value.

A handler on the root logger (and on every logger that does not propagate) formats each record as
the project's text format would, traceback included, and looks in it for every secret value
configured at that moment: the settings' keys, tokens and webhook URLs (the webhook's token
alone too), the Sentry DSN and its key, SECRET_KEY and database passwords, as each test sets them.
A test whose run logged one fails at teardown, naming the logger and the setting (never the value);
a line logged outside any test fails the session at its end. Registered in the root conftest.py.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from core.logging_format import TEXT_FORMAT

MIN_SECRET_CHARS = 8  # as coinpilot_site/error_reports.py: shorter values are not secrets


@dataclass(frozen=True)
class Leak:
    logger: str
    setting: str
    test: str

    def describe(self) -> str:
        where = f"in {self.test}" if self.test else "outside any test"
        return f"logger {self.logger!r} logged the value of {self.setting} {where} (value not shown)"


def named_secrets() -> list[tuple[str, str]]:
    """(setting name, value) of every secret configured now, longest value first."""
    from django.conf import settings

    from coinpilot_site.error_reports import SECRET_SETTINGS

    found = [(name, str(getattr(settings, name, "") or "")) for name in SECRET_SETTINGS]
    webhooks = {"DISCORD_WEBHOOK_URL": settings.DISCORD_WEBHOOK_URL}
    webhooks |= {f"DISCORD_WEBHOOK_URLS[{k}]": v for k, v in settings.DISCORD_WEBHOOK_URLS.items()}
    for name, url in webhooks.items():
        if url:
            found += [(name, url), (f"{name} (token)", url.rstrip("/").rsplit("/", 1)[-1])]
    dsn = str(getattr(settings, "SENTRY_DSN", "") or "")
    if dsn:
        found.append(("SENTRY_DSN (key)", urlsplit(dsn).username or ""))
    found += [
        (f"DATABASES[{alias}] password", db.get("PASSWORD") or "") for alias, db in settings.DATABASES.items()
    ]
    found = [(name, value) for name, value in found if len(value) >= MIN_SECRET_CHARS]
    return sorted(found, key=lambda item: len(item[1]), reverse=True)


class SecretSweep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(TEXT_FORMAT))
        self.test = ""  # the test running now
        self.lines = 0  # lines swept so far: proves the sweep saw the run
        self.leaks: list[Leak] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            secrets = named_secrets()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is no line at all
            return
        self.lines += 1
        for setting, value in secrets:
            if value in line:
                self.leaks.append(Leak(record.name, setting, self.test))
                return  # one leak per line is enough to fail; the value is not repeated

    def take_leaks(self, test: str | None = None) -> list[Leak]:
        """Remove and return the leaks of `test` (every leak when None)."""
        taken = [leak for leak in self.leaks if test is None or leak.test == test]
        self.leaks = [leak for leak in self.leaks if leak not in taken]
        return taken

    def attach(self) -> None:
        """On the root logger and on each logger that does not propagate (idempotent)."""
        loggers = [logging.getLogger()]
        loggers += [
            logger
            for logger in logging.root.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and not logger.propagate
        ]
        for logger in loggers:
            if self not in logger.handlers:
                logger.addHandler(self)


SWEEP = SecretSweep()


@pytest.fixture(autouse=True)
def secret_sweep(request):
    """Sweeps this test's log lines; fails the test at teardown when one carried a secret."""
    SWEEP.attach()  # again for every test: logging may have been configured anew since
    SWEEP.test = request.node.nodeid
    yield SWEEP
    SWEEP.test = ""
    fail_on_leaks(request.node.nodeid)


def fail_on_leaks(test: str) -> None:
    """Fail (naming each logger and setting, never the value) when `test` logged a secret."""
    leaks = SWEEP.take_leaks(test)
    if leaks:
        described = "; ".join(leak.describe() for leak in leaks)
        pytest.fail(f"a log line carried a secret: {described}", pytrace=False)


def pytest_sessionfinish(session) -> None:
    leaks = SWEEP.take_leaks()
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for leak in leaks:
            if reporter:
                reporter.write_line(f"SECRET IN LOG: {leak.describe()}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
