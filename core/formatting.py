"""How people read numbers: one definition for pages, alerts, reports and chat replies.

Every figure carries thousands separators; KRW amounts have no decimals; prices keep the decimals a
cheap coin's tick needs; coin quantities keep up to 8 decimals (Upbit's precision) without trailing
zeros; percentages carry their unit. The unit words follow the active language ("1,234 KRW" /
"1,234원"), and in Korean a large amount can be read in 만/억 beside the exact figure
(`krw_approx`). Unreadable input (None, "", NaN, text) reads "-": a page never shows a traceback for
a missing value.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import get_language, gettext

MISSING = "-"
_ONE = Decimal(1)
_MAN = Decimal(10_000)
_EOK = Decimal(100_000_000)
_JO = Decimal(1_000_000_000_000)
APPROX_FROM = Decimal(1_000_000)  # from 100만 a figure is easier read in 만/억; below, the digits say it


def to_decimal(value) -> Decimal | None:
    """`value` as an exact Decimal (floats through their shortest repr), or None if it is no finite number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _grouped(number: Decimal, places: int | None, sign: bool = False) -> str:
    """Thousands separators; `places` fixed decimals, or None for the number's own decimals (zeros cut)."""
    if places is not None:
        text = f"{number:{'+' if sign else ''},.{places}f}"
    else:
        text = f"{number.normalize():{'+' if sign else ''},f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "+0") and not sign else text


def number(value, places: int | None = None) -> str:
    """A plain figure with thousands separators: `number(1993032.37, 0)` = "1,993,032"."""
    amount = to_decimal(value)
    return MISSING if amount is None else _grouped(amount, places)


def krw(value, sign: bool = False) -> str:
    """Whole won with separators and the unit: "9,935,023 KRW" / "9,935,023원"; `sign` adds "+" to gains."""
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    won = amount.quantize(_ONE, ROUND_HALF_UP)
    # Translators: an amount of Korean won; {amount} is already formatted ("1,234").
    return gettext("{amount} KRW").format(amount=_grouped(won, 0, sign=sign and won != 0))


def krw_approx(value) -> str:
    """In Korean, a large amount in 만/억/조 ("약 993만 원"), shown beside the exact figure; "" otherwise.

    Only for Korean readers and amounts from 100만 (APPROX_FROM): English readers have the exact figure."""
    amount = to_decimal(value)
    if amount is None or not (get_language() or "").startswith("ko") or abs(amount) < APPROX_FROM:
        return ""
    sign = "-" if amount < 0 else ""
    rest = abs(amount).quantize(_MAN, ROUND_DOWN)  # whole 만: the exact figure stands beside it
    parts = []
    for unit, name in ((_JO, "조"), (_EOK, "억"), (_MAN, "만")):
        count = rest // unit
        if count:
            parts.append(f"{count:,}{name}")
            rest -= count * unit
    return f"약 {sign}{' '.join(parts)} 원"


def price(value) -> str:
    """A KRW price as Upbit quotes it: whole won from 100 up, else up to 8 decimals ("0.0123")."""
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    return _grouped(amount, 0) if abs(amount) >= 100 else _grouped(amount, None)


def quantity(value) -> str:
    """A coin quantity to Upbit's 8 decimals, trailing zeros cut: "0.00125", "12,000"."""
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    return _grouped(amount.quantize(Decimal("1e-8"), ROUND_HALF_UP), None)


def percent(value, places: int = 2, sign: bool = False) -> str:
    """A figure already in percent with its unit: `percent(5)` = "5.00%"; `sign` shows "+" on gains."""
    amount = to_decimal(value)
    return MISSING if amount is None else f"{_grouped(amount, places, sign=sign)}%"


def fraction_percent(value, places: int = 2, sign: bool = False) -> str:
    """A fraction as a percentage: `fraction_percent(0.05)` = "5.00%"."""
    amount = to_decimal(value)
    return MISSING if amount is None else percent(amount * 100, places, sign)


def usd(value) -> str:
    """US dollars to the cent ("$1,234.50"); a cost above zero that rounds to nothing reads "< $0.01"."""
    amount = to_decimal(value)
    if amount is None:
        return MISSING
    cents = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
    if amount > 0 and cents == 0:
        return "< $0.01"
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"
