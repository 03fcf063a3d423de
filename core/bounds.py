"""Numbers and dates read from text, with bounds: command-line options, environment variables, forms.

Every reader raises `BoundsError` (a ValueError) with a message in the operator's words, so an
option, a setting or a form field is refused before anything runs or is stored. The `*_option`
factories give argparse types: argparse puts the option's name in front of the message and Django
turns it into a CommandError (exit code 2 on the command line).
"""

import argparse
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

# Upbit opened in 2017, so no market data is older; far-future dates are typos, and both bounds
# keep date arithmetic (warm-up windows, time zones) clear of datetime's year 1 and year 9999.
EARLIEST_DAY = date(2017, 1, 1)
LATEST_DAY = date(2099, 12, 31)
DATE_EXAMPLE = "e.g. 2026-01-31 or 2026-01-31T09:00"


class BoundsError(ValueError):
    """A value was refused; the message says what is allowed."""


def _plain(number: Decimal) -> str:
    return f"{number:,f}" if number == number.to_integral_value() else f"{number:f}"


def allowed_numbers(low, high, *, whole: bool = False, unit: str = "", above: bool = False) -> str:
    """What parse_number accepts, in words: 'a whole number from 1 to 365 days'."""
    kind = "a whole number" if whole else "a number"
    low, high = _plain(Decimal(low)), _plain(Decimal(high))
    span = f"above {low} and at most {high}" if above else f"from {low} to {high}"
    return f"{kind} {span}{' ' + unit if unit else ''}"


def parse_number(
    text, *, low: Decimal | int, high: Decimal | int, whole: bool = False, unit: str = "", above: bool = False
) -> Decimal:
    """`text` as a finite Decimal in [low, high] ((low, high] with `above`); whole if asked."""
    low, high = Decimal(low), Decimal(high)
    allowed = allowed_numbers(low, high, whole=whole, unit=unit, above=above)
    try:
        number = Decimal(str(text).strip().replace("_", ""))
    except (InvalidOperation, ValueError):
        raise BoundsError(f"must be {allowed}, not {text!r}") from None
    in_range = number.is_finite() and (low < number if above else low <= number) and number <= high
    if not in_range or (whole and number != number.to_integral_value()):
        raise BoundsError(f"must be {allowed}, not {text!r}")
    return number


def _check_day(day: date, text: str) -> None:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise BoundsError(f"{text!r} is outside {EARLIEST_DAY} .. {LATEST_DAY} (Upbit's data starts in 2017)")


def parse_day(text: str) -> date:
    """A calendar day (YYYY-MM-DD) between 2017 and 2099."""
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        raise BoundsError(f"{text!r} is not a date (YYYY-MM-DD, e.g. 2026-01-31)") from None
    _check_day(day, text)
    return day


def parse_moment(text: str, *, default_tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 date or time between 2017 and 2099, aware; without an offset it is in `default_tz`."""
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BoundsError(f"{text!r} is not a date or time ({DATE_EXAMPLE})") from None
    _check_day(parsed.date(), text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)  # in range, so no overflow near year 1 or 9999


def writable_file(text: str) -> Path:
    """A file path that can be written now: its folder exists and is writable, it is not a folder."""
    path = Path(text).expanduser()
    folder = path.parent if str(path.parent) else Path()
    if path.is_dir():
        raise BoundsError(f"{text!r} is a folder; give a file name, e.g. report.html")
    if not folder.is_dir():
        raise BoundsError(f"cannot write {text!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BoundsError(f"cannot write {text!r}: permission denied")
    return path


# --- argparse types ----------------------------------------------------------------------------


def _option(parse: Callable, name: str) -> Callable[[str], object]:
    def read(text: str):
        try:
            return parse(text)
        except BoundsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = name  # argparse names the type in some messages
    return read


def int_option(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]."""
    return _option(lambda text: int(parse_number(text, low=low, high=high, whole=True, unit=unit)), "int")


def float_option(low: float, high: float, unit: str = "", *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a number in [low, high] (or (low, high] with `above`)."""
    low_d, high_d = Decimal(str(low)), Decimal(str(high))
    return _option(
        lambda text: float(parse_number(text, low=low_d, high=high_d, unit=unit, above=above)), "number"
    )


def decimal_option(low, high, unit: str = "", *, above: bool = False) -> Callable[[str], Decimal]:
    """An argparse type: an exact Decimal in [low, high] (or (low, high] with `above`)."""
    return _option(lambda text: parse_number(text, low=low, high=high, unit=unit, above=above), "amount")


def moment_option(default_tz: tzinfo = UTC) -> Callable[[str], datetime]:
    """An argparse type: an ISO 8601 date or time (see parse_moment)."""
    return _option(lambda text: parse_moment(text, default_tz=default_tz), "moment")


def file_option() -> Callable[[str], Path]:
    """An argparse type: a file that can be written (see writable_file)."""
    return _option(writable_file, "path")


def day_option() -> Callable[[str], date]:
    """An argparse type: a calendar day (see parse_day)."""
    return _option(parse_day, "day")
