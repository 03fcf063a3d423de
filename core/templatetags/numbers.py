"""Number filters for pages: `{% load numbers %}`. Each is core.formatting's function of that name,
so a page, an alert and a chat reply print the same figure the same way."""

from django import template

from core import formatting

register = template.Library()


@register.filter
def krw(value, sign: str = "") -> str:
    """`{{ equity|krw }}` = "9,935,023 KRW" ("9,935,023원" in Korean); `{{ pnl|krw:"+" }}` signs gains."""
    return formatting.krw(value, sign=sign == "+")


@register.filter
def krw_approx(value) -> str:
    """`{{ equity|krw_approx }}`: "약 993만 원" in Korean for amounts from 100만, "" otherwise."""
    return formatting.krw_approx(value)


@register.filter
def price(value) -> str:
    """`{{ fill|price }}`: a KRW price, whole won from 100 up, else with the decimals a cheap coin needs."""
    return formatting.price(value)


@register.filter
def quantity(value) -> str:
    """`{{ position.quantity|quantity }}`: up to 8 decimals, trailing zeros cut."""
    return formatting.quantity(value)


@register.filter
def number(value, places=None) -> str:
    """`{{ count|number }}` / `{{ ratio|number:2 }}`: thousands separators, fixed decimals when given."""
    return formatting.number(value, None if places in (None, "") else int(places))


@register.filter
def pct(value, places=2) -> str:
    """`{{ 5.123|pct }}` = "5.12%": a figure already in percent; `{{ x|pct:"+1" }}` signs it, 1 decimal."""
    text = str(places)
    return formatting.percent(value, int(text.lstrip("+") or 2), sign=text.startswith("+"))


@register.filter
def fraction_pct(value, places=2) -> str:
    """`{{ 0.05|fraction_pct }}` = "5.00%": a fraction shown as a percentage ("+1" signs it, 1 decimal)."""
    text = str(places)
    return formatting.fraction_percent(value, int(text.lstrip("+") or 2), sign=text.startswith("+"))


@register.filter
def usd(value) -> str:
    """`{{ cost|usd }}`: "$1,234.50"; a cost above zero that rounds to nothing reads "< $0.01"."""
    return formatting.usd(value)
