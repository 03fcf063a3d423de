"""What a log line (and an error report) is about: request id, job, slot and symbol.

The values live in contextvars, set where they become known (the request-id middleware, the RQ
worker around each job, the bot cycle around each symbol) and reset when that work ends. A
logging filter copies them onto every record, so any format can show them; error tracking
(core/errors.py) turns them into tags.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from logging import Filter, LogRecord

FIELDS = ("request_id", "job_id", "job_name", "slot", "symbol")
_VARS: dict[str, ContextVar[str]] = {name: ContextVar(f"coinpilot_{name}", default="") for name in FIELDS}
# Where an exception was raised: log_context's exit keeps the context on it, so a report made
# after the context ended (a caught-and-logged error) still knows the job or symbol.
_EXC_ATTRIBUTE = "_coinpilot_log_context"

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current() -> dict[str, str]:
    """The context fields that are set now (empty ones left out)."""
    return {name: value for name, var in _VARS.items() if (value := var.get())}


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Set context fields (request_id, job_id, job_name, slot, symbol) for the block's duration."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log context fields: {sorted(unknown)}")
    tokens = [_VARS[name].set("" if value is None else str(value)) for name, value in fields.items()]
    try:
        yield
    except BaseException as exc:
        if not hasattr(exc, _EXC_ATTRIBUTE):  # the innermost context is the most precise
            try:
                setattr(exc, _EXC_ATTRIBUTE, current())
            except AttributeError:  # an exception type that takes no attributes
                pass
        raise
    finally:
        for (name, _), token in zip(reversed(fields.items()), reversed(tokens), strict=True):
            _VARS[name].reset(token)


def context_of(exc: BaseException | None) -> dict[str, str]:
    """The context an exception was raised in (empty when it left no log_context)."""
    return dict(getattr(exc, _EXC_ATTRIBUTE, None) or {})


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID when it is sane (short, no spaces or control characters), else a new one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def job_fields(job) -> dict[str, str]:
    """Context fields of an RQ job: its id, the schedule it runs (or its function) and slot."""
    name, slot = job.meta.get("schedule"), job.meta.get("slot")
    if job.func_name == "core.scheduling.run_scheduled" and len(job.args) >= 2:
        name, slot = job.args[0], job.args[1]  # on-demand runs carry no meta
    return {"job_id": job.id, "job_name": name or job.func_name, "slot": slot or ""}


class ContextFilter(Filter):
    """Copies the context fields onto every record (empty string when unknown), never drops one."""

    def filter(self, record: LogRecord) -> bool:
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        if not record.request_id:  # Django logs a 4xx after the middleware: the request still knows
            record.request_id = getattr(getattr(record, "request", None), "request_id", "")
        return True
