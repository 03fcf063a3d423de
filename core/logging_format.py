"""LOG_FORMAT: plain text (the default) or one JSON object per line for a log collector.

A JSON line carries time (UTC, ISO 8601), level, logger, message and, where known, request_id,
job_id, job_name, slot and symbol (core/logging_context.py), plus the traceback as `exc_info`.

Both formats replace any configured secret value in the finished line with [Filtered]: a defence
in depth, since code must never log one (the test suite's sweep, tests/log_sweep.py, fails when
it does: it formats the records itself, unscrubbed).
"""

import logging
from datetime import UTC, datetime

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from pythonjsonlogger.json import JsonFormatter

from .errors import scrub
from .logging_context import FIELDS

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_format(raw: str) -> str:
    """LOG_FORMAT as written by the operator, checked: `text` or `json`."""
    value = (raw or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {raw!r} (see .env.example)")
    return value


class _Scrubbing:
    """`scrub_values_of` names a function listing the configured secret values (read per line:
    a value may change at run time, as it does in tests)."""

    def __init__(self, *args, scrub_values_of: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scrub_values_of = scrub_values_of

    def secrets(self) -> list[str]:
        if not self.scrub_values_of:
            return []
        try:
            return list(import_string(self.scrub_values_of)())
        except Exception:  # settings not ready (gunicorn's master): no configured secret to compare
            return []


class CoinPilotTextFormatter(_Scrubbing, logging.Formatter):
    """TEXT_FORMAT, unchanged but for secret values."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets())


class CoinPilotJsonFormatter(_Scrubbing, JsonFormatter):
    """The fixed field set above; a context field appears only when it is known."""

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        for name in FIELDS:
            if value := getattr(record, name, ""):
                log_data[name] = value
        if record.exc_info:
            log_data["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            log_data["exc_info"] = record.exc_text
        if record.stack_info:
            log_data["stack_info"] = self.formatStack(record.stack_info)

    def format(self, record: logging.LogRecord) -> str:
        log_data: dict = {}
        self.add_fields(log_data, record, {})
        return self.serialize_log_record(scrub(log_data, self.secrets()))


def formatters(fmt: str, scrub_values_of: str = "") -> dict:
    """The LOGGING `formatters` entry for LOG_FORMAT `fmt`, always named "plain" for the handlers;
    `scrub_values_of` names the function listing the secret values to replace."""
    if fmt == "json":
        return {"plain": {"()": f"{__name__}.CoinPilotJsonFormatter", "scrub_values_of": scrub_values_of}}
    text = {
        "()": f"{__name__}.CoinPilotTextFormatter",
        "fmt": TEXT_FORMAT,
        "scrub_values_of": scrub_values_of,
    }
    return {"plain": text}


def gunicorn_logconfig(fmt: str, scrub_values_of: str = "") -> dict | None:
    """gunicorn's own loggers (error and access) in the same format; None keeps gunicorn's text."""
    if fmt != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters(fmt, scrub_values_of),
        "handlers": {"console": handler, "error_console": handler | {"stream": "ext://sys.stderr"}},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
