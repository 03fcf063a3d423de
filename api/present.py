"""How the API writes values: money as exact decimal strings, times as ISO 8601 in UTC and KST."""

from datetime import UTC, datetime
from decimal import Decimal

from core.kst import KST
from trading.booking import decimal_str


def money(value) -> str | None:
    """Exact decimal text ("100449000", "0.0049975"); floats (Redis statuses) via their repr."""
    if value is None or value == "":
        return None
    return decimal_str(value if isinstance(value, Decimal) else Decimal(str(value)))


def utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def kst(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(KST).isoformat()


def times(name: str, moment: datetime | None) -> dict:
    """`{name: UTC, name_kst: KST}`: machines read the first, operators the second."""
    return {name: utc(moment), f"{name}_kst": kst(moment)}
