"""Number filters for pages: `{% load numbers %}`."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()
CENT = Decimal("0.01")


@register.filter
def usd(value) -> str:
    """`{{ cost|usd }}`: US dollars to the cent with thousands separators ("$1,234.50"); a cost
    above zero that rounds to nothing reads "< $0.01", not "$0.00"."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    cents = amount.quantize(CENT, ROUND_HALF_UP)
    if amount > 0 and cents == 0:
        return "< $0.01"
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"
