"""Tool arguments: each parameter declared once, giving both its JSON schema and its validation.

The model's arguments are checked before any query; a bad one raises ToolArgumentError with a
message the model can act on (it gets it back as an `is_error` tool result). Dates and times are
read in KST; a date as `to` means the end of that day.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

SYMBOL_RE = re.compile(r"^KRW-[A-Z0-9]{1,15}$")
MAX_RANGE_DAYS = 366


class ToolArgumentError(ValueError):
    """The model called a tool with arguments it must correct."""


@dataclass(frozen=True)
class Param:
    kind: str  # "symbol" | "from" | "to" | "choice" | "int" | "limit" | "text"
    description: str
    choices: tuple[str, ...] = ()
    minimum: int = 1
    maximum: int = 100

    def schema(self) -> dict:
        if self.kind == "symbol":
            return {"type": "string", "description": self.description, "pattern": SYMBOL_RE.pattern}
        if self.kind in ("from", "to"):
            return {"type": "string", "description": self.description + " (KST; YYYY-MM-DD or ISO datetime)"}
        if self.kind == "choice":
            return {"type": "string", "description": self.description, "enum": list(self.choices)}
        if self.kind == "limit":
            return {"type": "integer", "description": self.description, "minimum": 1}
        if self.kind == "int":
            return {
                "type": "integer",
                "description": self.description,
                "minimum": self.minimum,
                "maximum": self.maximum,
            }
        return {"type": "string", "description": self.description, "maxLength": 60}


SYMBOL = Param("symbol", "Market, e.g. KRW-BTC")
FROM = Param("from", "Start of the period, inclusive")
TO = Param("to", "End of the period (a date means the whole day)")
LIMIT = Param("limit", "Most rows to return, newest first")


def input_schema(params: dict[str, Param]) -> dict:
    return {
        "type": "object",
        "properties": {name: p.schema() for name, p in params.items()},
        "additionalProperties": False,
    }


def validate(params: dict[str, Param], args) -> dict:
    """Clean `args` against `params`: the values to query with; ToolArgumentError otherwise."""
    if not isinstance(args, dict):
        raise ToolArgumentError("arguments must be a JSON object")
    unknown = sorted(set(args) - set(params))
    if unknown:
        allowed = ", ".join(params) or "none"
        raise ToolArgumentError(f"unknown argument(s) {', '.join(unknown)} (allowed: {allowed})")
    clean = {name: _clean(name, params[name], value) for name, value in args.items() if value is not None}
    if "limit" in params:
        clean.setdefault("limit", row_limit())
    start, end = clean.get("from"), clean.get("to")
    if start and end:
        if start >= end:
            raise ToolArgumentError("'from' must be before 'to'")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise ToolArgumentError(f"the period may cover at most {MAX_RANGE_DAYS} days")
    return clean


def row_limit() -> int:
    return settings.ASK_TOOL_ROW_LIMIT


def _clean(name: str, param: Param, value):
    if param.kind in ("int", "limit"):
        return _integer(name, param, value)
    if not isinstance(value, str):
        raise ToolArgumentError(f"{name} must be a string")
    value = value.strip()
    if param.kind == "symbol":
        symbol = value.upper() if value.upper().startswith("KRW-") else f"KRW-{value.upper()}"
        if not SYMBOL_RE.match(symbol):
            raise ToolArgumentError(f"{name} must be a KRW market like KRW-BTC, not {value!r}")
        return symbol
    if param.kind == "choice":
        if value.upper() not in param.choices:
            raise ToolArgumentError(f"{name} must be one of {', '.join(param.choices)}, not {value!r}")
        return value.upper()
    if param.kind in ("from", "to"):
        return parse_moment(name, value, end_of_day=param.kind == "to")
    return value[:60]


def _integer(name: str, param: Param, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolArgumentError(f"{name} must be a whole number")
    maximum = row_limit() if param.kind == "limit" else param.maximum
    if not param.minimum <= value <= maximum:
        raise ToolArgumentError(f"{name} must be between {param.minimum} and {maximum}, not {value}")
    return value


def parse_moment(name: str, value: str, *, end_of_day: bool = False) -> datetime:
    """A KST date or datetime as an aware datetime; a date as the end of a period is the next midnight."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ToolArgumentError(
            f"{name} must be a date (YYYY-MM-DD) or an ISO datetime, not {value!r}"
        ) from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)  # naive = KST
